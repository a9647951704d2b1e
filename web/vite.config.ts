import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// The app is static: `npm run build` writes web/dist, which the local stack serves at / and the
// CDK stack uploads to S3 behind CloudFront. `npm run dev` proxies the API to a running `make run`.
export default defineConfig({
  plugins: [preact()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2020" },
  server: {
    proxy: {
      "/v1": "http://127.0.0.1:8787",
      "/config.json": "http://127.0.0.1:8787",
    },
  },
});
