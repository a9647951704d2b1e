/** Sign-in with e-mail and password against Cognito's public API (USER_PASSWORD_AUTH), the same
 * request in AWS and locally (moto's Cognito). Tokens live in memory; the refresh token in
 * sessionStorage so a reload of the tab keeps the session. The ID token is refreshed
 * (REFRESH_TOKEN_AUTH) a few minutes before it expires. */
import { config } from "./config";

export interface Session {
  email: string;
  idToken: string;
  accessToken: string;
  refreshToken: string;
  expiresAt: number; // ms since epoch
}

export class AuthError extends Error {
  constructor(
    public readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Cognito asked for a new password (a user an admin created, first sign-in). */
export class NewPasswordRequired extends Error {
  constructor(
    public readonly email: string,
    public readonly session: string,
  ) {
    super("new password required");
  }
}

const STORAGE_KEY = "smsdesk.session";
const REFRESH_MARGIN_MS = 5 * 60 * 1000;

let session: Session | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<(s: Session | null) => void>();

export function onSessionChange(fn: (s: Session | null) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function currentSession(): Session | null {
  return session;
}

async function cognito<T>(action: string, body: Record<string, unknown>): Promise<T> {
  const res = await fetch(config().cognitoEndpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `AWSCognitoIdentityProviderService.${action}`,
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const data = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  if (!res.ok) {
    const type = String(data["__type"] ?? data["code"] ?? "Error").split("#").pop() ?? "Error";
    throw new AuthError(type, String(data["message"] ?? data["Message"] ?? type));
  }
  return data as T;
}

interface AuthResult {
  AuthenticationResult?: { IdToken: string; AccessToken: string; RefreshToken?: string; ExpiresIn: number };
  ChallengeName?: string;
  Session?: string;
}

function setSession(next: Session | null): void {
  session = next;
  clearTimeout(timer);
  if (next) {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ email: next.email, refreshToken: next.refreshToken }));
    const wait = Math.max(5_000, next.expiresAt - Date.now() - REFRESH_MARGIN_MS);
    timer = setTimeout(() => void refresh().catch(() => setSession(null)), wait);
  } else {
    sessionStorage.removeItem(STORAGE_KEY);
  }
  listeners.forEach((fn) => fn(next));
}

function fromResult(email: string, r: AuthResult, refreshToken?: string): Session {
  const a = r.AuthenticationResult;
  if (!a) throw new AuthError("UnexpectedChallenge", r.ChallengeName ?? "no tokens");
  return {
    email,
    idToken: a.IdToken,
    accessToken: a.AccessToken,
    refreshToken: a.RefreshToken ?? refreshToken ?? "",
    expiresAt: Date.now() + a.ExpiresIn * 1000,
  };
}

export async function signIn(email: string, password: string): Promise<Session> {
  const r = await cognito<AuthResult>("InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: config().userPoolClientId,
    AuthParameters: { USERNAME: email, PASSWORD: password },
  });
  if (r.ChallengeName === "NEW_PASSWORD_REQUIRED" && r.Session) throw new NewPasswordRequired(email, r.Session);
  const s = fromResult(email, r);
  setSession(s);
  return s;
}

export async function completeNewPassword(email: string, challengeSession: string, newPassword: string): Promise<Session> {
  const r = await cognito<AuthResult>("RespondToAuthChallenge", {
    ChallengeName: "NEW_PASSWORD_REQUIRED",
    ClientId: config().userPoolClientId,
    Session: challengeSession,
    ChallengeResponses: { USERNAME: email, NEW_PASSWORD: newPassword },
  });
  const s = fromResult(email, r);
  setSession(s);
  return s;
}

/** New ID and access tokens from the refresh token (Cognito keeps the refresh token). */
export async function refresh(): Promise<Session> {
  const prev = session ?? restoreStored();
  if (!prev?.refreshToken) throw new AuthError("NotSignedIn", "not signed in");
  const r = await cognito<AuthResult>("InitiateAuth", {
    AuthFlow: "REFRESH_TOKEN_AUTH",
    ClientId: config().userPoolClientId,
    AuthParameters: { REFRESH_TOKEN: prev.refreshToken },
  });
  const s = fromResult(prev.email, r, prev.refreshToken);
  setSession(s);
  return s;
}

function restoreStored(): Pick<Session, "email" | "refreshToken"> | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Pick<Session, "email" | "refreshToken">) : null;
  } catch {
    return null;
  }
}

/** On start: a tab that was signed in gets fresh tokens from its refresh token. */
export async function resume(): Promise<Session | null> {
  if (!restoreStored()) return null;
  try {
    return await refresh();
  } catch {
    setSession(null);
    return null;
  }
}

export async function signOut(): Promise<void> {
  const s = session;
  setSession(null);
  if (s) {
    // Revoke the refresh token server-side; the UI is signed out either way.
    await cognito("GlobalSignOut", { AccessToken: s.accessToken }).catch(() => undefined);
  }
}
