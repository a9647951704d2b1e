import { useState } from "preact/hooks";
import { AuthError, completeNewPassword, NewPasswordRequired, signIn } from "../auth";
import { LANGUAGES, lang, setLanguage, t, type Lang } from "../i18n";

export function SignIn() {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [challenge, setChallenge] = useState<NewPasswordRequired | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (challenge) await completeNewPassword(challenge.email, challenge.session, password);
      else await signIn(email.trim(), password);
    } catch (err) {
      if (err instanceof NewPasswordRequired) {
        setChallenge(err);
        setPassword("");
      } else if (err instanceof AuthError && (err.code === "NotAuthorizedException" || err.code === "UserNotFoundException")) {
        setError(t("signin.wrong"));
      } else {
        setError(err instanceof Error ? err.message : String(err));
      }
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" id="main">
      <form onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <h1 id="signin-title">smsdesk</h1>
        <p class="muted">{challenge ? t("signin.newpassword") : t("signin.intro")}</p>
        {!challenge ? (
          <div class="field">
            <label for="email">{t("signin.email")}</label>
            <input id="email" type="email" autoComplete="username" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
          </div>
        ) : null}
        <div class="field">
          <label for="password">{challenge ? t("signin.newpasswordlabel") : t("signin.password")}</label>
          <input
            id="password"
            type="password"
            autoComplete={challenge ? "new-password" : "current-password"}
            required
            value={password}
            onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
            aria-describedby={error ? "signin-error" : undefined}
          />
        </div>
        {error ? (
          <p class="field-error" id="signin-error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy}>
          {t("signin.submit")}
        </button>
        <div class="field">
          <label for="signin-lang">{t("nav.language")}</label>
          <select id="signin-lang" value={lang.get()} onChange={(e) => setLanguage((e.target as HTMLSelectElement).value as Lang)}>
            {Object.entries(LANGUAGES).map(([k, v]) => (
              <option key={k} value={k}>
                {v}
              </option>
            ))}
          </select>
        </div>
      </form>
    </main>
  );
}
