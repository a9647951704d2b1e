/** CRM links (issue 16): the conversation's side panel (link to / create a person, lead or deal,
 * unlink) and an item's page (a lead or deal with its links and transcript notes, editable). */
import { useEffect, useState } from "preact/hooks";
import { api, get, post, type Page } from "../api";
import { errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, t, type Key } from "../i18n";

export type CrmKind = "contact" | "lead" | "deal";
export interface CrmLink {
  id: string;
  conversation_id: string;
  kind: CrmKind;
  item_id: string;
  provider: "smsdesk" | "pipedrive";
  title: string | null;
  created_at: string;
}
export interface CrmItem {
  id: string;
  title: string;
  person_id: string;
  owner_id: string;
  value: string | null;
  currency: string | null;
  status: "open" | "won" | "lost";
  created_at: string;
  pipeline_id?: string;
  stage_id?: string;
}
export interface CrmNote {
  id: string;
  kind: CrmKind;
  item_id: string;
  conversation_id: string | null;
  content: string;
  state: "auto" | "edited";
  window_start: string | null;
  updated_at: string | null;
}
interface CrmSettings {
  pipedrive_enabled: boolean;
}
interface Pipeline {
  id: string;
  name: string;
  stages: { id: string; name: string }[];
}

const PLURAL: Record<CrmKind, string> = { contact: "contacts", lead: "leads", deal: "deals" };

export function itemHref(l: Pick<CrmLink, "kind" | "item_id" | "provider">): string | null {
  return l.provider === "smsdesk" ? `/${PLURAL[l.kind]}/${encodeURIComponent(l.item_id)}` : null;
}

/** The conversation's links, in the thread's side panel. */
export function CrmLinks({ conversationId }: { conversationId: string }) {
  const base = `/v1/conversations/${encodeURIComponent(conversationId)}/links`;
  const [links, setLinks] = useState<CrmLink[] | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [adding, setAdding] = useState(false);
  const load = async () => {
    try {
      setLinks((await get<Page<CrmLink>>(base)).items);
    } catch (e) {
      setErrors(errorsOf(e));
    }
  };
  useEffect(() => void load(), [conversationId]);
  const unlink = async (id: string) => {
    setErrors({});
    try {
      await api("DELETE", `${base}/${encodeURIComponent(id)}`);
      await load();
    } catch (e) {
      setErrors(errorsOf(e));
    }
  };
  return (
    <aside class="crm-links card" aria-labelledby="crm-links-title" data-testid="crm-links">
      <div class="row">
        <h3 id="crm-links-title">{t("crm.links")}</h3>
        {links !== null && !adding ? (
          <button type="button" class="small" onClick={() => setAdding(true)}>
            {t("crm.link")}
          </button>
        ) : null}
      </div>
      {links === null ? <p class="muted">{t("common.loading")}</p> : null}
      {links !== null && links.length === 0 ? <p class="muted">{t("crm.nolinks")}</p> : null}
      <ul class="plain">
        {(links ?? []).map((l) => {
          const href = itemHref(l);
          const label = `${t(`crm.kind.${l.kind}` as Key)}: ${l.title ?? l.item_id}`;
          return (
            <li key={l.id} class="row" data-link-kind={l.kind}>
              {href ? <a href={href}>{label}</a> : <span>{label} (Pipedrive)</span>}
              <button type="button" class="small" onClick={() => void unlink(l.id)} aria-label={t("crm.unlinkitem", { name: label })}>
                {t("crm.unlink")}
              </button>
            </li>
          );
        })}
      </ul>
      <FormError errors={errors} known={[]} />
      {adding ? (
        <LinkForm
          base={base}
          onDone={(changed) => {
            setAdding(false);
            if (changed) void load();
          }}
        />
      ) : null}
    </aside>
  );
}

function LinkForm({ base, onDone }: { base: string; onDone: (changed: boolean) => void }) {
  const [kind, setKind] = useState<CrmKind>("deal");
  const [provider, setProvider] = useState<"smsdesk" | "pipedrive">("smsdesk");
  const [choice, setChoice] = useState("new");
  const [title, setTitle] = useState("");
  const [items, setItems] = useState<CrmItem[] | null>(null);
  const [settings, setSettings] = useState<CrmSettings | null>(null);
  const [term, setTerm] = useState("");
  const [found, setFound] = useState<{ id: string; title: string }[]>([]);
  const [errors, setErrors] = useState<FieldErrors>({});
  useEffect(() => {
    void get<CrmSettings>("/v1/crm/settings").then(setSettings, () => setSettings({ pipedrive_enabled: false }));
  }, []);
  useEffect(() => {
    setChoice("new");
    setItems(null);
    if (kind !== "contact") void get<Page<CrmItem>>(`/v1/${PLURAL[kind]}?limit=50`).then((p) => setItems(p.items), () => setItems([]));
  }, [kind]);
  const search = async () => {
    setErrors({});
    try {
      setFound((await get<{ items: { id: string; title: string }[] }>(`/v1/crm/pipedrive/search?kind=${kind}&term=${encodeURIComponent(term)}`)).items);
    } catch (e) {
      setErrors(errorsOf(e));
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    let body: Record<string, unknown>;
    if (provider === "pipedrive") {
      const hit = found.find((f) => f.id === choice);
      body = { kind, provider, item_id: choice, title: hit?.title };
    } else if (choice === "new") body = { kind, create: true, ...(title.trim() && kind !== "contact" ? { title: title.trim() } : {}) };
    else body = { kind, item_id: choice };
    try {
      await post(base, body);
      onDone(true);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  if (settings === null) return <p class="muted">{t("common.loading")}</p>;
  return (
    <form class="stack" onSubmit={(e) => void submit(e)} aria-label={t("crm.link")}>
      {settings.pipedrive_enabled ? (
        <Field label={t("crm.provider")} name="provider" errors={errors}>
          {(p) => (
            <select
              {...p}
              value={provider}
              onChange={(e) => {
                const v = (e.target as HTMLSelectElement).value as "smsdesk" | "pipedrive";
                setProvider(v);
                setChoice(v === "pipedrive" ? "" : "new");
              }}
            >
              <option value="smsdesk">smsdesk</option>
              <option value="pipedrive">Pipedrive</option>
            </select>
          )}
        </Field>
      ) : null}
      <Field label={t("crm.kind")} name="kind" errors={errors}>
        {(p) => (
          <select {...p} value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as CrmKind)}>
            {(["deal", "lead", "contact"] as CrmKind[]).map((k) => (
              <option key={k} value={k}>
                {t(`crm.kind.${k}` as Key)}
              </option>
            ))}
          </select>
        )}
      </Field>
      {provider === "pipedrive" ? (
        <>
          <Field label={t("crm.search")} name="term" errors={errors}>
            {(p) => <input {...p} value={term} onInput={(e) => setTerm((e.target as HTMLInputElement).value)} />}
          </Field>
          <button type="button" class="small" disabled={term.trim().length < 2} onClick={() => void search()}>
            {t("crm.searchbutton")}
          </button>
          <Field label={t("crm.item")} name="item_id" errors={errors}>
            {(p) => (
              <select {...p} value={choice} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
                <option value="">–</option>
                {found.map((f) => (
                  <option key={f.id} value={f.id}>
                    {f.title}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </>
      ) : (
        <>
          <Field label={t("crm.item")} name="item_id" errors={errors}>
            {(p) => (
              <select {...p} value={choice} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
                <option value="new">{kind === "contact" ? t("crm.thiscontact") : t("crm.createnew")}</option>
                {(items ?? []).map((i) => (
                  <option key={i.id} value={i.id}>
                    {i.title}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {choice === "new" && kind !== "contact" ? (
            <Field label={t("crm.title")} name="title" errors={errors} hint={t("crm.titlehint")}>
              {(p) => <input {...p} value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />}
            </Field>
          ) : null}
        </>
      )}
      <FormError errors={errors} known={["kind", "item_id", "title", "provider", "term"]} />
      <div class="row">
        <button type="button" onClick={() => onDone(false)}>
          {t("common.cancel")}
        </button>
        <button type="submit" class="primary" disabled={!choice}>
          {t("crm.link")}
        </button>
      </div>
    </form>
  );
}

/** A lead's or deal's page: its fields, the conversations linked to it and its transcript notes. */
export function CrmItemPage({ kind, id }: { kind: "lead" | "deal"; id: string }) {
  const base = `/v1/${PLURAL[kind]}/${encodeURIComponent(id)}`;
  const [item, setItem] = useState<CrmItem | null>(null);
  const [links, setLinks] = useState<CrmLink[]>([]);
  const [notes, setNotes] = useState<CrmNote[] | null>(null);
  const [pipeline, setPipeline] = useState<Pipeline | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const load = async () => {
    try {
      const [i, l, n] = await Promise.all([
        get<CrmItem>(base),
        get<Page<CrmLink>>(`${base}/links`),
        get<Page<CrmNote>>(`${base}/notes?limit=100`),
      ]);
      setItem(i);
      setLinks(l.items);
      setNotes(n.items);
      if (i.pipeline_id) setPipeline(await get<Pipeline>(`/v1/pipelines/${encodeURIComponent(i.pipeline_id)}`));
    } catch (e) {
      setErrors(errorsOf(e));
    }
  };
  useEffect(() => void load(), [kind, id]);
  if (!item) return errors[""] ? <p class="field-error" role="alert">{errors[""]}</p> : <p class="muted">{t("common.loading")}</p>;
  const stage = pipeline?.stages.find((s) => s.id === item.stage_id)?.name;
  return (
    <section class="page" aria-labelledby="crm-item-title">
      <h1 id="crm-item-title">{item.title}</h1>
      <dl class="facts">
        <dt>{t("crm.kind")}</dt>
        <dd>{t(`crm.kind.${kind}` as Key)}</dd>
        <dt>{t("crm.status")}</dt>
        <dd data-testid="crm-status">{t(`crm.status.${item.status}` as Key)}</dd>
        {item.value !== null ? (
          <>
            <dt>{t("crm.value")}</dt>
            <dd>
              {item.value} {item.currency}
            </dd>
          </>
        ) : null}
        {pipeline ? (
          <>
            <dt>{t("crm.stage")}</dt>
            <dd>
              {pipeline.name}: {stage ?? item.stage_id}
            </dd>
          </>
        ) : null}
        <dt>{t("crm.person")}</dt>
        <dd>
          <a href={`/contacts/${encodeURIComponent(item.person_id)}`}>{t("crm.openperson")}</a>
        </dd>
      </dl>
      <h2>{t("crm.conversations")}</h2>
      {links.length === 0 ? <p class="muted">{t("crm.nolinks")}</p> : null}
      <ul class="plain">
        {links.map((l) => (
          <li key={l.id}>
            <a href={`/?view=unassigned&c=${encodeURIComponent(l.conversation_id)}`}>{t("crm.openconversation")}</a>{" "}
            <span class="muted">{dateTime(l.created_at)}</span>
          </li>
        ))}
      </ul>
      <h2>{t("crm.notes")}</h2>
      <FormError errors={errors} known={[]} />
      {notes !== null && notes.length === 0 ? <p class="muted">{t("crm.nonotes")}</p> : null}
      <ol class="plain notes" data-testid="crm-notes">
        {(notes ?? []).map((n) => (
          <NoteCard key={n.id} base={base} note={n} onChange={load} />
        ))}
      </ol>
    </section>
  );
}

function NoteCard({ base, note, onChange }: { base: string; note: CrmNote; onChange: () => Promise<void> }) {
  const [editing, setEditing] = useState<string | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const url = `${base}/notes/${encodeURIComponent(note.id)}`;
  const run = async (fn: () => Promise<unknown>) => {
    setErrors({});
    try {
      await fn();
      setEditing(null);
      await onChange();
    } catch (e) {
      setErrors(errorsOf(e));
    }
  };
  return (
    <li class="card note" data-note-state={note.state}>
      <p class="muted small-text">
        {note.window_start ? dateTime(note.window_start) : null}
        {note.state === "edited" ? ` · ${t("crm.edited")}` : null}
      </p>
      {editing === null ? (
        <>
          <pre class="note-text">{note.content}</pre>
          <div class="row">
            <button type="button" class="small" onClick={() => setEditing(note.content)}>
              {t("crm.editnote")}
            </button>
            <button
              type="button"
              class="small danger"
              onClick={() => {
                if (confirm(t("crm.deleteconfirm"))) void run(() => api("DELETE", url));
              }}
            >
              {t("crm.deletenote")}
            </button>
          </div>
        </>
      ) : (
        <form onSubmit={(e) => (e.preventDefault(), void run(() => api("PATCH", url, { content: editing })))}>
          <Field label={t("crm.notetext")} name="content" errors={errors}>
            {(p) => <textarea {...p} rows={8} value={editing} onInput={(e) => setEditing((e.target as HTMLTextAreaElement).value)} />}
          </Field>
          <FormError errors={errors} known={["content"]} />
          <div class="row">
            <button type="button" onClick={() => setEditing(null)}>
              {t("common.cancel")}
            </button>
            <button type="submit" class="primary" disabled={!editing.trim()}>
              {t("common.save")}
            </button>
          </div>
        </form>
      )}
    </li>
  );
}

interface CrmSettingsFull {
  web_url: string | null;
  pipedrive_enabled: boolean;
  pipedrive_api_url: string;
  pipedrive_token_set: boolean;
}

/** Admin: the web address notes link to, and the Pipedrive connector (the token is write-only). */
export function CrmSettingsPage() {
  const [settings, setSettings] = useState<CrmSettingsFull | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  useEffect(() => {
    void get<CrmSettingsFull>("/v1/crm/settings").then(setSettings, (e: unknown) => setLoadError(errorsOf(e)[""] ?? String(e)));
  }, []);
  return (
    <section class="page" aria-labelledby="crm-settings-title">
      <h1 id="crm-settings-title">{t("crm.settings")}</h1>
      {settings ? (
        <CrmSettingsForm initial={settings} onSaved={setSettings} />
      ) : loadError ? (
        <p class="field-error" role="alert">
          {loadError}
        </p>
      ) : (
        <p class="muted">{t("common.loading")}</p>
      )}
    </section>
  );
}

function CrmSettingsForm({ initial, onSaved }: { initial: CrmSettingsFull; onSaved: (s: CrmSettingsFull) => void }) {
  const [webUrl, setWebUrl] = useState(initial.web_url ?? "");
  const [apiUrl, setApiUrl] = useState(initial.pipedrive_api_url);
  const [token, setToken] = useState("");
  const [enabled, setEnabled] = useState(initial.pipedrive_enabled);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setSaved(false);
    const body: Record<string, unknown> = { web_url: webUrl.trim() || null, pipedrive_api_url: apiUrl.trim(), pipedrive_enabled: enabled };
    if (token) body["pipedrive_api_token"] = token;
    try {
      const s = await api<CrmSettingsFull>("PATCH", "/v1/crm/settings", body);
      onSaved(s);
      setToken("");
      setSaved(true);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <form class="card stack" onSubmit={(e) => void submit(e)} aria-label={t("crm.settings")}>
      <Field label={t("crm.weburl")} name="web_url" errors={errors} hint={t("crm.weburlhint")}>
        {(p) => <input {...p} type="text" inputMode="url" value={webUrl} onInput={(e) => setWebUrl((e.target as HTMLInputElement).value)} />}
      </Field>
      <Field label={t("crm.pipedriveurl")} name="pipedrive_api_url" errors={errors}>
        {(p) => <input {...p} type="text" inputMode="url" value={apiUrl} onInput={(e) => setApiUrl((e.target as HTMLInputElement).value)} />}
      </Field>
      <Field
        label={t("crm.pipedrivetoken")}
        name="pipedrive_api_token"
        errors={errors}
        hint={initial.pipedrive_token_set ? t("crm.tokenset") : t("crm.tokennotset")}
      >
        {(p) => <input {...p} type="password" autoComplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />}
      </Field>
      <label class="check">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled((e.target as HTMLInputElement).checked)} />{" "}
        {t("crm.pipedriveenabled")}
      </label>
      <FormError errors={errors} known={["web_url", "pipedrive_api_url", "pipedrive_api_token"]} />
      <div class="row">
        <span class="muted" role="status">
          {saved ? t("common.saved") : ""}
        </span>
        <button type="submit" class="primary">
          {t("common.save")}
        </button>
      </div>
    </form>
  );
}
