import { useEffect, useState } from "preact/hooks";
import { api, get, post, type Me, type Notification, type NotificationPreferences, type Page } from "./api";
import { Dialog, errorsOf, FormError, useEscape, type FieldErrors } from "./components";
import { currentSession, onSessionChange, resume, signOut, type Session } from "./auth";
import { dateTime, lang, languageChoice, LANGUAGES, setLanguage, t, type Key, type Lang } from "./i18n";
import { navigate, onLinkClick, path } from "./router";
import { usePolling, useSignal } from "./state";
import { SignIn } from "./pages/SignIn";
import { Inbox } from "./pages/Inbox";
import { SendSms } from "./pages/Send";
import { Sent } from "./pages/Sent";
import { ChannelDetail, Channels } from "./pages/Channels";
import { Users } from "./pages/Users";
import { Credits } from "./pages/Credits";
import { Teams } from "./pages/Teams";
import { Lists } from "./pages/Lists";
import { Dashboard } from "./pages/Dashboard";
import { ContactImport } from "./pages/ContactImport";
import { ContactFields, ContactPage, Contacts } from "./pages/Contacts";
import { GroupPage, Groups } from "./pages/Groups";
import { CrmItemPage, CrmSettingsPage } from "./pages/Crm";
import { BotEditor, Bots } from "./pages/Bots";
import { CampaignPage, Campaigns } from "./pages/Campaigns";
import { QuietHoursPage } from "./pages/QuietHours";
import { CrmItems } from "./pages/CrmLists";

export function App() {
  useSignal(lang); // re-render everything on a language switch
  const [session, setSession] = useState<Session | null>(currentSession());
  const [starting, setStarting] = useState(true);
  useEffect(() => {
    const off = onSessionChange(setSession);
    void resume().finally(() => setStarting(false));
    return off;
  }, []);
  if (starting) return <p class="center muted">{t("common.loading")}</p>;
  if (!session) return <SignIn />;
  return <Shell />;
}

function Shell() {
  const p = useSignal(path);
  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<FieldErrors | null>(null);
  useEffect(() => {
    void get<Me>("/v1/me").then(
      (m) => {
        setMe(m);
        if (m.language) setLanguage(m.language); // the profile's language follows the user to any browser
      },
      (e: unknown) => setMeError(errorsOf(e)),
    );
  }, []);
  const admin = me?.role === "admin" || me?.role === "owner";
  const route = p.split("?")[0] ?? "/";
  let page;
  if (route === "/send") page = <SendSms />;
  else if (route === "/sent") page = <Sent />;
  else if (route === "/admin/channels") page = <Channels />;
  else if (route.startsWith("/admin/channels/")) page = <ChannelDetail id={decodeURIComponent(route.slice(16))} />;
  else if (route === "/admin/users") page = <Users me={me} />;
  else if (route === "/admin/credits") page = <Credits />;
  else if (route === "/admin/teams") page = <Teams />;
  else if (route === "/admin/lists") page = <Lists />;
  else if (route === "/dashboard") page = <Dashboard />;
  else if (route === "/contacts") page = <Contacts />;
  else if (route === "/contacts/import") page = <ContactImport admin={admin} />;
  else if (route.startsWith("/contacts/")) page = <ContactPage id={decodeURIComponent(route.slice(10))} admin={admin} />;
  else if (route === "/groups") page = <Groups admin={admin} />;
  else if (route.startsWith("/groups/")) page = <GroupPage id={decodeURIComponent(route.slice(8))} admin={admin} />;
  else if (route === "/admin/contact-fields") page = <ContactFields />;
  // CRM (issue 16): a lead's or deal's page with its notes
  else if (route.startsWith("/leads/")) page = <CrmItemPage kind="lead" id={decodeURIComponent(route.slice(7))} />;
  else if (route.startsWith("/deals/")) page = <CrmItemPage kind="deal" id={decodeURIComponent(route.slice(7))} />;
  else if (route === "/admin/crm") page = <CrmSettingsPage />;
  else if (route === "/admin/bots") page = <Bots />;
  else if (route.startsWith("/admin/bots/")) page = <BotEditor id={decodeURIComponent(route.slice(12))} />;
  else if (route === "/campaigns") page = <Campaigns />;
  else if (route.startsWith("/campaigns/")) page = <CampaignPage id={decodeURIComponent(route.slice(11))} />;
  else if (route === "/admin/quiet-hours") page = <QuietHoursPage />;
  // CRM: the lists of leads and deals (create, edit, delete)
  else if (route === "/leads") page = <CrmItems key="lead" kind="lead" admin={admin} />;
  else if (route === "/deals") page = <CrmItems key="deal" kind="deal" admin={admin} />;
  else page = <Inbox me={me} />;
  const nav: [string, Key][] = [
    ["/", "nav.inbox"],
    ["/send", "nav.send"],
    ["/sent", "nav.sent"],
    ["/contacts", "nav.contacts"],
    ["/groups", "nav.groups"],
    ["/campaigns", "nav.campaigns"],
    ["/leads", "nav.leads"],
    ["/deals", "nav.deals"],
  ];
  const adminNav: [string, Key][] = [
    ["/dashboard", "nav.dashboard"],
    ["/admin/channels", "nav.channels"],
    ["/admin/users", "nav.users"],
    ["/admin/teams", "nav.teams"],
    ["/admin/lists", "nav.lists"],
    ["/admin/contact-fields", "nav.fields"],
    ["/admin/credits", "nav.credits"],
    ["/admin/crm", "nav.crm"],
    ["/admin/bots", "nav.bots"],
    ["/admin/quiet-hours", "nav.quiethours"],
  ];
  const current = (href: string) => (href === "/" ? route === "/" || route.startsWith("/inbox") : route.startsWith(href));
  return (
    <div class={`shell ${page.type === Inbox ? "fill" : ""}`} onClick={(e) => onLinkClick(e as unknown as MouseEvent)}>
      <a class="skip" href="#main">
        {t("nav.skip")}
      </a>
      <header class="top">
        <span class="brand">smsdesk</span>
        <nav aria-label={t("nav.main")}>
          {nav.map(([href, key]) => (
            <a key={href} href={href} aria-current={current(href) ? "page" : undefined}>
              {t(key)}
            </a>
          ))}
          {admin
            ? adminNav.map(([href, key]) => (
                <a key={href} href={href} aria-current={current(href) ? "page" : undefined}>
                  {t(key)}
                </a>
              ))
            : null}
        </nav>
        <div class="top-right">
          {me ? <Availability me={me} onChange={setMe} /> : null}
          <Bell />
          <LanguageSwitcher me={me} onChange={setMe} />
          <UserMenu me={me} />
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {/* pages wait for the profile: a form shown disabled and then enabled under the user's
            cursor (the role decides what an admin may edit) loses what they typed or focused */}
        {me ? page : meError ? <FormError errors={meError} known={[]} /> : <p class="center muted">{t("common.loading")}</p>}
      </main>
    </div>
  );
}

/** The language: applied at once and kept in the profile (`PATCH /v1/me`); "" = the browser's. */
function LanguageSwitcher({ me, onChange }: { me: Me | null; onChange: (m: Me) => void }) {
  const choice = useSignal(languageChoice);
  const [failed, setFailed] = useState(false);
  const change = async (value: string) => {
    const next = value ? (value as Lang) : null;
    setLanguage(next);
    setFailed(false);
    try {
      onChange(await api<Me>("PATCH", "/v1/me", { language: next }));
    } catch {
      setFailed(true); // spoken here, but not kept in the profile
    }
  };
  return (
    <>
      <label class="sr-only" for="lang">
        {t("nav.language")}
      </label>
      <select
        id="lang"
        value={choice ?? ""}
        disabled={!me}
        aria-invalid={failed}
        title={failed ? t("nav.languagenotsaved") : undefined}
        onChange={(e) => void change((e.target as HTMLSelectElement).value)}
      >
        <option value="">{t("nav.languageauto")}</option>
        {Object.entries(LANGUAGES).map(([k, v]) => (
          <option key={k} value={k}>
            {v}
          </option>
        ))}
      </select>
    </>
  );
}

function Availability({ me, onChange }: { me: Me; onChange: (m: Me) => void }) {
  const [busy, setBusy] = useState(false);
  const toggle = async () => {
    setBusy(true);
    try {
      await api("PUT", "/v1/me/availability", { available: !me.available });
      onChange({ ...me, available: !me.available });
    } finally {
      setBusy(false);
    }
  };
  return (
    <button
      type="button"
      role="switch"
      aria-checked={me.available}
      class={`availability ${me.available ? "on" : "off"}`}
      disabled={busy}
      onClick={() => void toggle()}
    >
      <span class="dot" aria-hidden="true" />
      {me.available ? t("me.available") : t("me.away")}
    </button>
  );
}

/** The user menu: who is signed in, notification preferences, sign-out. */
function UserMenu({ me }: { me: Me | null }) {
  const [open, setOpen] = useState(false);
  const [prefs, setPrefs] = useState(false);
  useEscape(open, () => {
    setOpen(false);
    document.getElementById("user-menu-button")?.focus();
  });
  return (
    <div class="menu">
      <button
        type="button"
        id="user-menu-button"
        class="who"
        aria-expanded={open}
        aria-controls="user-menu"
        title={me?.email ?? ""}
        onClick={() => setOpen(!open)}
      >
        {me?.name ?? me?.email ?? t("nav.account")} ▾
      </button>
      {open ? (
        <div id="user-menu" class="popover" role="region" aria-label={t("nav.account")}>
          <p class="muted small-text">{me?.email}</p>
          <button
            type="button"
            class="link"
            onClick={() => {
              setOpen(false);
              setPrefs(true);
            }}
          >
            {t("prefs.title")}
          </button>
          <button type="button" class="link" onClick={() => void signOut()}>
            {t("nav.signout")}
          </button>
        </div>
      ) : null}
      {prefs ? (
        <Preferences
          onClose={() => {
            setPrefs(false);
            setTimeout(() => document.getElementById("user-menu-button")?.focus());
          }}
        />
      ) : null}
    </div>
  );
}

const PREFS: (keyof NotificationPreferences)[] = ["new_message_unassigned", "new_message_mine", "new_message_others", "assigned_to_me"];

/** GET/PUT /v1/me/notification-preferences: which events ring the bell. */
function Preferences({ onClose }: { onClose: () => void }) {
  const [prefs, setPrefs] = useState<NotificationPreferences | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    void get<NotificationPreferences>("/v1/me/notification-preferences").then(setPrefs, (e: unknown) => setErrors(errorsOf(e)));
  }, []);
  const save = async (e: Event) => {
    e.preventDefault();
    if (!prefs) return;
    setErrors({});
    setSaved(false);
    try {
      setPrefs(await api<NotificationPreferences>("PUT", "/v1/me/notification-preferences", prefs));
      setSaved(true);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <Dialog title={t("prefs.title")} onClose={onClose}>
      <form onSubmit={(e) => void save(e)}>
        <p class="muted">{t("prefs.intro")}</p>
        {prefs ? (
          <fieldset class="checks">
            <legend class="sr-only">{t("prefs.title")}</legend>
            {PREFS.map((k) => (
              <label key={k}>
                <input
                  type="checkbox"
                  name={k}
                  checked={prefs[k]}
                  onChange={(e) => {
                    setSaved(false);
                    setPrefs({ ...prefs, [k]: (e.target as HTMLInputElement).checked });
                  }}
                />
                {t(`bell.${k}` as Key)}
                {errors[k] ? (
                  <span class="field-error" role="alert" data-field={k}>
                    {" "}
                    {errors[k]}
                  </span>
                ) : null}
              </label>
            ))}
          </fieldset>
        ) : (
          <p class="muted">{t("common.loading")}</p>
        )}
        <FormError errors={errors} known={PREFS} />
        <div class="row">
          <span class="success" role="status">
            {saved ? t("common.saved") : ""}
          </span>
          <span>
            <button type="button" onClick={onClose}>
              {t("common.close")}
            </button>{" "}
            <button type="submit" class="primary" disabled={!prefs}>
              {t("common.save")}
            </button>
          </span>
        </div>
      </form>
    </Dialog>
  );
}

function Bell() {
  const [items, setItems] = useState<Notification[]>([]);
  const [open, setOpen] = useState(false);
  useEscape(open, () => {
    setOpen(false);
    document.getElementById("bell-button")?.focus();
  });
  usePolling(
    async () => {
      const page = await get<Page<Notification>>("/v1/notifications?limit=20");
      setItems(page.items);
    },
    4000,
    [],
  );
  const unread = items.filter((n) => !n.read_at).length;
  const read = async (n: Notification) => {
    if (!n.read_at) {
      await post(`/v1/notifications/${encodeURIComponent(n.id)}/read`).catch(() => undefined);
      setItems((xs) => xs.map((x) => (x.id === n.id ? { ...x, read_at: new Date().toISOString() } : x)));
    }
    setOpen(false);
    navigate(`/?c=${encodeURIComponent(n.conversation_id)}`);
  };
  return (
    <div class="bell">
      <button
        type="button"
        id="bell-button"
        aria-expanded={open}
        aria-controls="bell-feed"
        aria-label={t("bell.label", { n: unread })}
        onClick={() => setOpen(!open)}
      >
        <svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">
          <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9M13.7 21a2 2 0 0 1-3.4 0" />
        </svg>
        {unread ? (
          <span class="count" data-testid="bell-count">
            {unread}
          </span>
        ) : null}
      </button>
      {open ? (
        <div id="bell-feed" class="feed popover" role="region" aria-label={t("bell.title")}>
          {items.length === 0 ? <p class="muted">{t("bell.empty")}</p> : null}
          <ul>
            {items.map((n) => (
              <li key={n.id} class={n.read_at ? "read" : "unread"}>
                <button type="button" class="link" onClick={() => void read(n)}>
                  {t(`bell.${n.kind}` as Key)}
                  <span class="muted"> · {dateTime(n.created_at)}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
