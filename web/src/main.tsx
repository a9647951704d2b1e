import { render } from "preact";
import { App } from "./App";
import { loadConfig } from "./config";
import "./styles.css";

const root = document.getElementById("app")!;
loadConfig().then(
  () => render(<App />, root),
  (e: unknown) => {
    root.textContent = `smsdesk cannot start: ${e instanceof Error ? e.message : String(e)}`;
  },
);
