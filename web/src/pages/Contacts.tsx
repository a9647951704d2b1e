import { useEffect, useState } from "preact/hooks";
import {
  api,
  get,
  post,
  qs,
  type Channel,
  type ConsentState,
  type Contact,
  type ContactField,
  type Conversation,
  type ConversationPage,
  type FieldType,
  type Group,
  type OptOut,
  type Page,
} from "../api";
import { errorFor, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, t, type Key } from "../i18n";
import { navigate } from "../router";

const PAGE = 25;

/** The value of `ms` after it stopped changing for `ms` milliseconds (search boxes, rule previews). */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const h = setTimeout(() => setV(value), ms);
    return () => clearTimeout(h);
  }, [value, ms]);
  return v;
}

export const contactLabel = (c: Contact): string => c.name ?? c.mobile ?? c.email ?? c.id;

/** Contacts whose name, e-mail or number starts with the words typed (debounced), one page at a time. */
export function useContactSearch(q: string, limit = PAGE) {
  const query = useDebounced(q.trim(), 250);
  const [cursors, setCursors] = useState<(string | null)[]>([null]); // the cursor of each page seen
  const [page, setPage] = useState<Page<Contact> | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => setCursors([null]), [query]);
  const cursor = cursors[cursors.length - 1] ?? null;
  useEffect(() => {
    let live = true;
    get<Page<Contact>>(`/v1/contacts${qs({ q: query, limit, cursor })}`).then(
      (p) => {
        if (!live) return;
        setPage(p);
        setError(null);
      },
      (e: unknown) => live && setError(errorsOf(e)[""] ?? Object.values(errorsOf(e))[0] ?? ""),
    );
    return () => {
      live = false;
    };
  }, [query, cursor, tick]);
  return {
    items: page?.items ?? null,
    error,
    pageNo: cursors.length,
    next: page?.next_cursor ? () => setCursors([...cursors, page.next_cursor ?? null]) : null,
    prev: cursors.length > 1 ? () => setCursors(cursors.slice(0, -1)) : null,
    reload: () => setTick(tick + 1),
  };
}

/** The numbers opted out (any scope): admins may list them; for others the badge stays hidden. */
function useOptedOut(): Set<string> {
  const [set, setSet] = useState<Set<string>>(new Set());
  useEffect(() => {
    void get<Page<OptOut>>("/v1/opt-outs?limit=500").then(
      (p) => setSet(new Set(p.items.map((o) => o.number))),
      () => undefined,
    );
  }, []);
  return set;
}

export function Pager({ pageNo, prev, next }: { pageNo: number; prev: (() => void) | null; next: (() => void) | null }) {
  return (
    <nav class="pager" aria-label={t("common.pages")}>
      <button type="button" class="small" disabled={!prev} onClick={() => prev?.()}>
        {t("common.previous")}
      </button>
      <span class="muted">{t("common.page", { n: pageNo })}</span>
      <button type="button" class="small" disabled={!next} onClick={() => next?.()}>
        {t("common.next")}
      </button>
    </nav>
  );
}

/** /contacts: search (debounced), pages, name / mobile / e-mail / tags / opt-out. */
export function Contacts() {
  const [q, setQ] = useState("");
  const search = useContactSearch(q);
  const optedOut = useOptedOut();
  return (
    <section class="card wide" aria-labelledby="contacts-title">
      <div class="row wrap">
        <h1 id="contacts-title">{t("contacts.title")}</h1>
        <span class="row">
          <a class="button" href="/contacts/import">
            {t("contacts.import")}
          </a>
          <a class="button primary" href="/contacts/new">
            {t("contacts.new")}
          </a>
        </span>
      </div>
      <div class="field">
        <label for="contact-search">{t("contacts.search")}</label>
        <input id="contact-search" type="search" value={q} placeholder={t("contacts.searchhint")} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </div>
      {search.error ? (
        <p class="error-banner" role="alert">
          {search.error}
        </p>
      ) : null}
      {search.items?.length === 0 ? <p class="muted">{t("contacts.none")}</p> : null}
      {search.items?.length ? (
        <div class="table-wrap">
          <table data-testid="contacts">
            <thead>
              <tr>
                <th scope="col">{t("contacts.name")}</th>
                <th scope="col">{t("contacts.mobile")}</th>
                <th scope="col">{t("contacts.email")}</th>
                <th scope="col">{t("contacts.tags")}</th>
                <th scope="col">{t("contacts.consent")}</th>
              </tr>
            </thead>
            <tbody>
              {search.items.map((c) => (
                <tr key={c.id} data-contact={c.id}>
                  <td>
                    <a href={`/contacts/${encodeURIComponent(c.id)}`}>{contactLabel(c)}</a>
                  </td>
                  <td class="nowrap">{c.mobile ?? ""}</td>
                  <td>{c.email ?? ""}</td>
                  <td>
                    {c.tags.map((tag) => (
                      <span key={tag} class="tag">
                        {tag}
                      </span>
                    ))}
                  </td>
                  <td>{c.mobile && optedOut.has(c.mobile) ? <span class="badge status-failed">{t("contacts.optedout")}</span> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager pageNo={search.pageNo} prev={search.prev} next={search.next} />
    </section>
  );
}

type Draft = Record<"first_name" | "last_name" | "mobile" | "other_phone" | "email" | "language" | "time_zone", string>;
const BUILTIN: (keyof Draft)[] = ["first_name", "last_name", "mobile", "other_phone", "email", "language", "time_zone"];
const INPUT_TYPE: Partial<Record<keyof Draft, string>> = { mobile: "tel", other_phone: "tel", email: "email" };

function draftOf(c: Contact | null): Draft {
  const d = {} as Draft;
  for (const k of BUILTIN) d[k] = (c?.[k] as string | null) ?? "";
  return d;
}

/** A custom field's value as the input holds it ("" = not set). */
function customText(v: unknown): string {
  if (v === null || v === undefined) return "";
  return typeof v === "boolean" ? (v ? "true" : "false") : String(v);
}

/** The input's text as the API's typed value (null clears it). */
function customValue(type: FieldType, text: string): unknown {
  if (text === "") return null;
  if (type === "number") return Number(text);
  if (type === "boolean") return text === "true";
  return text;
}

export function CustomInput({ def, value, onChange, p }: { def: ContactField; value: string; onChange: (v: string) => void; p: Record<string, unknown> }) {
  const on = (e: Event) => onChange((e.target as HTMLInputElement | HTMLSelectElement).value);
  if (def.type === "boolean" || def.type === "choice") {
    const options = def.type === "boolean" ? ["true", "false"] : (def.options ?? []);
    return (
      <select {...p} value={value} onChange={on}>
        <option value="">–</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {def.type === "boolean" ? t(o === "true" ? "common.yes" : "common.no") : o}
          </option>
        ))}
      </select>
    );
  }
  return <input {...p} type={def.type === "number" ? "number" : def.type === "date" ? "date" : "text"} step={def.type === "number" ? "any" : undefined} value={value} onInput={on} />;
}

/** /contacts/{id} (or /contacts/new): the fields, tags and managers (edited together), its groups,
 * consent and messages. */
export function ContactPage({ id, admin }: { id: string; admin: boolean }) {
  const isNew = id === "new";
  const [contact, setContact] = useState<Contact | null>(null);
  const [defs, setDefs] = useState<ContactField[]>([]);
  const [draft, setDraft] = useState<Draft>(draftOf(null));
  const [custom, setCustom] = useState<Record<string, string>>({});
  const [tags, setTags] = useState("");
  const [managers, setManagers] = useState<Contact[]>([]);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  const [missing, setMissing] = useState(false);
  const load = (c: Contact) => {
    setContact(c);
    setDraft(draftOf(c));
    setCustom(Object.fromEntries(Object.entries(c.custom_fields).map(([k, v]) => [k, customText(v)])));
    setTags(c.tags.join(", "));
    void Promise.all(c.manager_ids.map((m) => get<Contact>(`/v1/contacts/${encodeURIComponent(m)}`).catch(() => null))).then((ms) =>
      setManagers(ms.filter((m): m is Contact => m !== null)),
    );
  };
  useEffect(() => {
    setErrors({});
    setSaved(false);
    void get<{ items: ContactField[] }>("/v1/contact-fields").then((r) => setDefs(r.items), () => undefined);
    if (isNew) {
      setContact(null);
      setDraft(draftOf(null));
      setCustom({});
      setTags("");
      setManagers([]);
    } else {
      setContact(null); // another contact's page: its form waits for its own data
      void get<Contact>(`/v1/contacts/${encodeURIComponent(id)}`).then(load, (e: unknown) => {
        setMissing(true);
        setErrors(errorsOf(e));
      });
    }
  }, [id]);
  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setSaved(false);
    const body: Record<string, unknown> = {};
    for (const k of BUILTIN) body[k] = draft[k].trim() || null;
    const cf: Record<string, unknown> = {};
    for (const d of defs) {
      const text = custom[d.key] ?? "";
      const before = customText(contact?.custom_fields[d.key]);
      if (isNew ? text !== "" : text !== before) cf[d.key] = customValue(d.type, text);
    }
    body["custom_fields"] = cf;
    body["tags"] = tags
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    body["manager_ids"] = managers.map((m) => m.id);
    try {
      if (isNew) {
        const c = await api<Contact>("POST", "/v1/contacts", body);
        navigate(`/contacts/${encodeURIComponent(c.id)}`);
      } else {
        load(await api<Contact>("PATCH", `/v1/contacts/${encodeURIComponent(id)}`, body));
        setSaved(true);
      }
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const remove = async () => {
    if (!contact || !confirm(t("contacts.confirmdelete", { name: contactLabel(contact) }))) return;
    try {
      await api("DELETE", `/v1/contacts/${encodeURIComponent(contact.id)}`);
      navigate("/contacts");
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  if (missing)
    return (
      <section class="card">
        <FormError errors={errors} known={[]} />
        <a href="/contacts">{t("contacts.back")}</a>
      </section>
    );
  const title = isNew ? t("contacts.new") : contact ? contactLabel(contact) : t("common.loading");
  if (!isNew && !contact)
    // the form waits for the contact: edits typed into an empty form would be overwritten when it arrives
    return (
      <section class="card wide" aria-labelledby="contact-title">
        <h1 id="contact-title">{title}</h1>
      </section>
    );
  return (
    <section class="card wide" aria-labelledby="contact-title">
      <p>
        <a href="/contacts">← {t("contacts.back")}</a>
      </p>
      <h1 id="contact-title">{title}</h1>
      <form class="subcard" aria-label={t("contacts.details")} onSubmit={(e) => void save(e)}>
        <div class="grid2">
          {BUILTIN.map((k) => (
            <Field key={k} label={t(`contacts.${k}` as Key)} name={k} errors={errors} hint={k === "time_zone" && contact?.time_zone_derived ? t("contacts.tzderived") : undefined}>
              {(p) => <input {...p} type={INPUT_TYPE[k] ?? "text"} autoComplete="off" value={draft[k]} onInput={(e) => setDraft({ ...draft, [k]: (e.target as HTMLInputElement).value })} />}
            </Field>
          ))}
          {defs.map((d) => (
            <Field key={d.key} label={d.label} name={`custom_fields.${d.key}`} errors={errors}>
              {(p) => <CustomInput def={d} p={p} value={custom[d.key] ?? ""} onChange={(v) => setCustom({ ...custom, [d.key]: v })} />}
            </Field>
          ))}
          <Field label={t("contacts.tags")} name="tags" errors={errors} hint={t("contacts.tagshint")}>
            {(p) => <input {...p} value={tags} onInput={(e) => setTags((e.target as HTMLInputElement).value)} />}
          </Field>
        </div>
        <Managers self={contact?.id ?? null} managers={managers} onChange={setManagers} error={errorFor(errors, "manager_ids")} />
        <FormError errors={errors} known={[...BUILTIN, "custom_fields", "tags", "manager_ids"]} />
        <div class="row">
          <span class="success" role="status">
            {saved ? t("common.saved") : ""}
          </span>
          <span>
            {admin && contact ? (
              <>
                <button type="button" class="danger" onClick={() => void remove()}>
                  {t("common.delete")}
                </button>{" "}
              </>
            ) : null}
            <button type="submit" class="primary">
              {isNew ? t("contacts.create") : t("common.save")}
            </button>
          </span>
        </div>
      </form>
      {contact ? (
        <>
          <ContactGroups id={contact.id} />
          <Consent id={contact.id} key={`${contact.id}:${contact.mobile ?? ""}`} />
          <ContactConversations id={contact.id} number={contact.mobile} key={`${contact.id}:${contact.mobile ?? ""}`} />
        </>
      ) : null}
    </section>
  );
}

/** The manager contacts: chips with a remove button, and a search to pick another. */
function Managers({ self, managers, onChange, error }: { self: string | null; managers: Contact[]; onChange: (m: Contact[]) => void; error: string | undefined }) {
  const [q, setQ] = useState("");
  const search = useContactSearch(q, 8);
  const found = q.trim() ? (search.items ?? []).filter((c) => c.id !== self && !managers.some((m) => m.id === c.id)) : [];
  return (
    <fieldset class="managers">
      <legend>{t("contacts.managers")}</legend>
      {managers.length ? (
        <ul class="chips">
          {managers.map((m) => (
            <li key={m.id} class="chip">
              <a href={`/contacts/${encodeURIComponent(m.id)}`}>{contactLabel(m)}</a>{" "}
              <button type="button" class="small" aria-label={t("contacts.removemanager", { name: contactLabel(m) })} onClick={() => onChange(managers.filter((x) => x.id !== m.id))}>
                ×
              </button>
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">{t("contacts.nomanagers")}</p>
      )}
      <div class="field">
        <label for="manager-search">{t("contacts.addmanager")}</label>
        <input id="manager-search" type="search" value={q} autoComplete="off" onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </div>
      {found.length ? (
        <ul class="picklist">
          {found.map((c) => (
            <li key={c.id}>
              <button
                type="button"
                class="link"
                onClick={() => {
                  onChange([...managers, c]);
                  setQ("");
                }}
              >
                {t("contacts.pickmanager", { name: contactLabel(c) })}
              </button>
              <span class="muted"> {c.mobile ?? ""}</span>
            </li>
          ))}
        </ul>
      ) : null}
      {error ? (
        <p class="field-error" role="alert" data-field="manager_ids">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

function ContactGroups({ id }: { id: string }) {
  const [groups, setGroups] = useState<Group[] | null>(null);
  useEffect(() => {
    void get<{ items: Group[] }>(`/v1/contacts/${encodeURIComponent(id)}/groups`).then((r) => setGroups(r.items), () => setGroups([]));
  }, [id]);
  return (
    <section aria-labelledby="cgroups-title">
      <h2 id="cgroups-title">{t("contacts.groups")}</h2>
      {groups?.length ? (
        <ul class="chips" data-testid="contact-groups">
          {groups.map((g) => (
            <li key={g.id} class="chip" data-group={g.id}>
              <a href={`/groups/${encodeURIComponent(g.id)}`}>{g.name}</a>
              {g.kind === "dynamic" ? <span class="muted"> · {t("groups.kind.dynamic")}</span> : null}
            </li>
          ))}
        </ul>
      ) : (
        <p class="muted">{t("contacts.nogroups")}</p>
      )}
      <p class="muted small-text">{t("contacts.groupsnote")}</p>
    </section>
  );
}

/** Opt-outs and blocks in force (per channel or account-wide) and the number's consent history. */
function Consent({ id }: { id: string }) {
  const [state, setState] = useState<ConsentState | null>(null);
  const [channels, setChannels] = useState<Channel[]>([]);
  useEffect(() => {
    void get<ConsentState>(`/v1/contacts/${encodeURIComponent(id)}/consent`).then(setState, () => undefined);
    void get<Page<Channel>>("/v1/channels?limit=100").then((p) => setChannels(p.items), () => undefined);
  }, [id]);
  const scope = (cid: string | null) => (cid ? (channels.find((c) => c.id === cid)?.name ?? cid) : t("lists.accountwide"));
  return (
    <section aria-labelledby="consent-title" data-testid="consent">
      <h2 id="consent-title">{t("contacts.consent")}</h2>
      {!state ? (
        <p class="muted">{t("common.loading")}</p>
      ) : !state.number ? (
        <p class="muted">{t("contacts.nonumber")}</p>
      ) : (
        <>
          {state.opted_out.length === 0 && state.blocked.length === 0 ? <p data-testid="consent-state">{t("contacts.subscribed")}</p> : null}
          <ul class="history-list" data-testid="consent-state">
            {state.opted_out.map((o) => (
              <li key={`o:${o.channel_id ?? ""}`}>
                <span class="badge status-failed">{t("contacts.optedout")}</span> {scope(o.channel_id)} · {o.reason} · {dateTime(o.created_at)}
              </li>
            ))}
            {state.blocked.map((b) => (
              <li key={`b:${b.channel_id ?? ""}`}>
                <span class="badge status-failed">{t("contacts.blocked")}</span> {scope(b.channel_id)} · {t(`direction.${b.direction}` as Key)}
                {b.reason ? ` · ${b.reason}` : ""}
              </li>
            ))}
          </ul>
          <h3>{t("lists.history")}</h3>
          {state.history.length ? (
            <ol class="history-list" data-testid="consent-history">
              {state.history.map((h) => (
                <li key={h.id}>
                  {t(`consent.${h.event}` as Key)} · {scope(h.channel_id)} · {h.reason} · {t(`source.${h.source}` as Key)} · {dateTime(h.at)}
                </li>
              ))}
            </ol>
          ) : (
            <p class="muted">{t("lists.nohistory")}</p>
          )}
        </>
      )}
    </section>
  );
}

/** The conversations of the contact's mobile on every channel the caller may use (any state), most recent
 * first, each linking to the inbox; "More" loads the next page. */
function ContactConversations({ id, number }: { id: string; number: string | null }) {
  const [items, setItems] = useState<Conversation[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [channels, setChannels] = useState<Channel[]>([]);
  const load = (after: string | null, before: Conversation[]) =>
    get<ConversationPage>(`/v1/contacts/${encodeURIComponent(id)}/conversations${qs({ limit: 10, cursor: after })}`).then(
      (p) => {
        setItems([...before, ...p.items]);
        setCursor(p.cursor);
      },
      () => setItems(before),
    );
  useEffect(() => {
    setItems(null);
    setCursor(null);
    void load(null, []);
    void get<Page<Channel>>("/v1/channels?limit=100").then((p) => setChannels(p.items), () => undefined);
  }, [id, number]);
  const channelName = (cid: string) => channels.find((c) => c.id === cid)?.name ?? cid;
  const href = (c: Conversation) => `/?view=${c.status === "closed" ? "closed" : c.assignee_id ? "mine" : "unassigned"}&c=${encodeURIComponent(c.id)}`;
  return (
    <section aria-labelledby="cconv-title">
      <h2 id="cconv-title">{t("contacts.conversations")}</h2>
      <p class="muted small-text">{t("contacts.conversationsnote")}</p>
      {!number || items?.length === 0 ? <p class="muted">{t("contacts.nomessages")}</p> : null}
      {items?.length ? (
        <ul class="history-list" data-testid="contact-conversations">
          {items.map((c) => (
            <li key={c.id} data-conversation={c.id}>
              <span class={`badge ${c.status === "closed" ? "muted" : "status-delivered"}`}>{t(c.status === "closed" ? "contacts.convclosed" : "contacts.convopen")}</span>{" "}
              <a href={href(c)}>{channelName(c.channel_id)}</a> · {dateTime(c.last_activity_at)}
              {c.last_message_preview ? ` · ${c.last_message_preview.length > 60 ? `${c.last_message_preview.slice(0, 60)}…` : c.last_message_preview}` : ""}
            </li>
          ))}
        </ul>
      ) : null}
      {cursor && items ? (
        <button type="button" class="small" onClick={() => void load(cursor, items)}>
          {t("contacts.moreconversations")}
        </button>
      ) : null}
    </section>
  );
}

const TYPES: FieldType[] = ["text", "number", "date", "boolean", "choice"];

/** /admin/contact-fields: typed custom fields (a choice field's options one per line). */
export function ContactFields() {
  const [items, setItems] = useState<ContactField[] | null>(null);
  const [key, setKey] = useState("");
  const [label, setLabel] = useState("");
  const [type, setType] = useState<FieldType>("text");
  const [options, setOptions] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const load = () => get<{ items: ContactField[] }>("/v1/contact-fields").then((r) => setItems(r.items));
  useEffect(() => void load().catch((e: unknown) => setErrors(errorsOf(e))), []);
  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    const body: Record<string, unknown> = { key: key.trim(), label: label.trim(), type };
    if (type === "choice")
      body["options"] = options
        .split("\n")
        .map((s) => s.trim())
        .filter(Boolean);
    try {
      await post("/v1/contact-fields", body);
      setKey("");
      setLabel("");
      setOptions("");
      await load();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const remove = async (f: ContactField) => {
    if (!confirm(t("fields.confirmdelete", { label: f.label }))) return;
    try {
      await api("DELETE", `/v1/contact-fields/${encodeURIComponent(f.key)}`);
      await load();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <section class="card wide" aria-labelledby="fields-title">
      <h1 id="fields-title">{t("fields.title")}</h1>
      <p class="muted">{t("fields.intro")}</p>
      <form class="subcard" aria-label={t("fields.new")} onSubmit={(e) => void create(e)}>
        <div class="grid2">
          <Field label={t("fields.label")} name="label" errors={errors}>
            {(p) => <input {...p} required maxLength={100} value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field label={t("fields.key")} name="key" errors={errors} hint={t("fields.keyhint")}>
            {(p) => <input {...p} required maxLength={40} autoComplete="off" value={key} onInput={(e) => setKey((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field label={t("fields.type")} name="type" errors={errors}>
            {(p) => (
              <select {...p} value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as FieldType)}>
                {TYPES.map((ty) => (
                  <option key={ty} value={ty}>
                    {t(`fields.type.${ty}` as Key)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {type === "choice" ? (
            <Field label={t("fields.options")} name="options" errors={errors} hint={t("fields.optionshint")}>
              {(p) => <textarea {...p} rows={4} value={options} onInput={(e) => setOptions((e.target as HTMLTextAreaElement).value)} />}
            </Field>
          ) : null}
        </div>
        <FormError errors={errors} known={["key", "label", "type", "options"]} />
        <button type="submit" class="primary">
          {t("fields.create")}
        </button>
      </form>
      {items?.length === 0 ? <p class="muted">{t("fields.none")}</p> : null}
      {items?.length ? (
        <div class="table-wrap">
          <table data-testid="fields">
            <thead>
              <tr>
                <th scope="col">{t("fields.label")}</th>
                <th scope="col">{t("fields.key")}</th>
                <th scope="col">{t("fields.type")}</th>
                <th scope="col">{t("fields.options")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((f) => (
                <tr key={f.key} data-field-key={f.key}>
                  <td>{f.label}</td>
                  <td>
                    <code>{f.key}</code>
                  </td>
                  <td>{t(`fields.type.${f.type}` as Key)}</td>
                  <td>{f.options?.join(", ") ?? ""}</td>
                  <td>
                    <button type="button" class="small" aria-label={t("fields.delete", { label: f.label })} onClick={() => void remove(f)}>
                      {t("common.delete")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
