/** The app's settings, written next to it by whoever serves it: the local stack generates
 * `/config.json`; in AWS the CDK stack uploads it to the bucket. Nothing is baked into the build. */
export interface AppConfig {
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  /** Cognito's public API: https://cognito-idp.<region>.amazonaws.com/ in AWS, moto's server locally. */
  cognitoEndpoint: string;
  /** Prefix of API paths; "" = the same origin as the app. */
  apiBase: string;
  stage: string;
}

let current: AppConfig | null = null;

export async function loadConfig(): Promise<AppConfig> {
  const res = await fetch("/config.json", { cache: "no-store" });
  if (!res.ok) throw new Error(`config.json: HTTP ${res.status}`);
  const raw = (await res.json()) as Partial<AppConfig>;
  if (!raw.userPoolClientId || !raw.cognitoEndpoint) throw new Error("config.json lacks the Cognito settings");
  current = {
    region: raw.region ?? "",
    userPoolId: raw.userPoolId ?? "",
    userPoolClientId: raw.userPoolClientId,
    cognitoEndpoint: raw.cognitoEndpoint,
    apiBase: (raw.apiBase ?? "").replace(/\/$/, ""),
    stage: raw.stage ?? "",
  };
  return current;
}

export function config(): AppConfig {
  if (!current) throw new Error("config not loaded");
  return current;
}
