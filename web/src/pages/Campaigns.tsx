import { useEffect, useRef, useState } from "preact/hooks";
import { api, get, post, qs, type Channel, type Contact, type Group, type Page } from "../api";
import { errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, num, t } from "../i18n";
import { navigate } from "../router";
import { usePolling } from "../state";
import { contactLabel, useContactSearch } from "./Contacts";
import { QuietHoursSummary } from "./QuietHours";

export interface Counts {
  recipients: number;
  queued: number;
  held: number;
  excluded: number;
  skipped: number;
  cancelled: number;
  sent: number;
  delivered: number;
  failed: number;
  credits: number;
}
export interface Audience {
  all: boolean;
  contact_ids: string[];
  numbers: string[];
  group_ids: string[];
  include_managers: boolean;
}
export interface Campaign {
  id: string;
  title: string;
  channel_id: string;
  text: string;
  kind: "alert" | "marketing";
  audience: Audience;
  status: "draft" | "scheduled" | "running" | "paused" | "completed" | "cancelled" | "failed";
  status_reason: string | null;
  schedule: { at: string | null; cron: string | null; rate: string | null; time_zone: string } | null;
  run: number;
  reserved: number;
  created_at: string;
  counts: Counts;
}
interface CampaignPreview {
  recipients: number;
  excluded: Record<string, number>;
  segments: number;
  credits: number;
  by_country: Record<string, { recipients: number; segments: number; credits: number }>;
  longest_text: string | null;
  longest_segments: number;
  footer: string | null;
  per_recipient: { number: string; text: string; credits: number }[] | null;
}
interface CampaignRecipient {
  number: string;
  status: string;
  reason: string | null;
  text: string;
  credits: number;
  not_before: string | null;
  message_status: string | null;
}

/** The campaigns: the list with each one's counts, and the composer with its live preview. */
export function Campaigns() {
  const [items, setItems] = useState<Campaign[] | null>(null);
  usePolling(
    async () => setItems((await get<Page<Campaign>>("/v1/campaigns?limit=50")).items),
    5000,
    [],
  );
  return (
    <div class="stack">
      <Composer />
      <section class="card wide" aria-labelledby="camp-list">
        <h1 id="camp-list">{t("camp.title")}</h1>
        {items === null ? (
          <p class="muted">{t("common.loading")}</p>
        ) : items.length === 0 ? (
          <p class="muted">{t("camp.empty")}</p>
        ) : (
          <table data-testid="campaigns">
            <thead>
              <tr>
                <th>{t("camp.name")}</th>
                <th>{t("camp.status")}</th>
                <th>{t("camp.recipients")}</th>
                <th>{t("camp.queued")}</th>
                <th>{t("camp.credits")}</th>
                <th>{t("camp.created")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((c) => (
                <tr key={c.id}>
                  <td>
                    <a href={`/campaigns/${encodeURIComponent(c.id)}`}>{c.title}</a>
                  </td>
                  <td>{t(`camp.state.${c.status}`)}</td>
                  <td>{num(c.counts.recipients)}</td>
                  <td>{num(c.counts.queued)}</td>
                  <td>{num(c.counts.credits)}</td>
                  <td>{dateTime(c.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

type When = "now" | "at" | "cron" | "rate";
/** A picked contact: its id and what to show (its name once read). */
interface Picked {
  id: string;
  label: string;
}
/** The first recipients the preview lists (their numbers and texts). */
const PREVIEW_ROWS = 5;

/** The composer: a new campaign, or (``editing``) a draft or scheduled one's changes (PATCH; a
 * scheduled campaign's schedule follows). Rendered only once what it edits has arrived. */
function Composer({ editing, onSaved, onCancel }: { editing?: Campaign; onSaved?: (c: Campaign) => void; onCancel?: () => void }) {
  const [allChannels, setAllChannels] = useState<Channel[] | null>(null);
  const a = editing?.audience;
  const sch = editing?.schedule ?? null;
  const [groups, setGroups] = useState<Group[] | null>(null);
  const [title, setTitle] = useState(editing?.title ?? "");
  const [channelId, setChannelId] = useState(editing?.channel_id ?? "");
  const [kind, setKind] = useState<"alert" | "marketing">(editing?.kind ?? "alert");
  const [text, setText] = useState(editing?.text ?? "");
  const [all, setAll] = useState(a?.all ?? false);
  const [picked, setPicked] = useState<Picked[] | null>(a?.contact_ids.length ? null : []);
  const [q, setQ] = useState("");
  const [groupIds, setGroupIds] = useState<string[]>(a?.group_ids ?? []);
  const [managers, setManagers] = useState(a?.include_managers ?? false);
  const [numbers, setNumbers] = useState((a?.numbers ?? []).join("\n"));
  const [when, setWhen] = useState<When>(sch ? (sch.at ? "at" : sch.cron ? "cron" : "rate") : "now");
  const [at, setAt] = useState(sch?.at ? sch.at.slice(0, 16) : "");
  const [cron, setCron] = useState(sch?.cron ?? "");
  const [rate, setRate] = useState(sch?.rate ?? "1 day");
  const [zone, setZone] = useState(sch?.time_zone ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"));
  const [preview, setPreview] = useState<CampaignPreview | null>(null);
  const [previewError, setPreviewError] = useState<FieldErrors>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const search = useContactSearch(q, 8);
  useEffect(() => {
    void get<Page<Group>>("/v1/groups?limit=100").then((p) => setGroups(p.items), () => setGroups([]));
    void get<Page<Channel>>("/v1/channels?limit=100").then((p) => setAllChannels(p.items), () => setAllChannels([]));
  }, []);
  // the channels a campaign may use (and, when editing, the one it has)
  const channels = (allChannels ?? []).filter((c) => c.enabled || c.id === editing?.channel_id);
  // an edited campaign's picked contacts, by name (one deleted since shows its id)
  useEffect(() => {
    const ids = a?.contact_ids ?? [];
    if (!ids.length) return;
    void Promise.all(
      ids.map((id) =>
        id && ids.indexOf(id) < 100
          ? get<Contact>(`/v1/contacts/${encodeURIComponent(id)}`).then(contactLabel, () => id)
          : Promise.resolve(id),
      ),
    ).then((labels) => setPicked(ids.map((id, i) => ({ id, label: labels[i] ?? id }))));
  }, []);
  const cid = channelId || channels[0]?.id || "";
  const nums = numbers.split(/[\s,;]+/).filter(Boolean);
  const contactIds = (picked ?? []).map((p) => p.id);
  const audience = { all, contact_ids: contactIds, group_ids: groupIds, numbers: nums, include_managers: managers };
  const schedule =
    when === "at"
      ? { at, time_zone: zone }
      : when === "cron"
        ? { cron, time_zone: zone }
        : when === "rate"
          ? { rate, time_zone: zone }
          : null;
  const body = { title: title || "-", channel_id: cid, text, kind, audience, schedule };
  const ready = !!cid && !!text.trim() && (all || contactIds.length > 0 || groupIds.length > 0 || nums.length > 0);
  // the live preview: the same planning and pricing as the launch, a moment after typing stops
  useEffect(() => {
    if (!ready) {
      setPreview(null);
      return;
    }
    let live = true;
    const handle = setTimeout(() => {
      post<CampaignPreview>("/v1/campaigns/preview", { ...body, per_recipient: PREVIEW_ROWS }).then(
        (p) => {
          if (!live) return;
          setPreview(p);
          setPreviewError({});
        },
        (e: unknown) => live && setPreviewError(errorsOf(e)),
      );
    }, 400);
    return () => {
      live = false;
      clearTimeout(handle);
    };
  }, [JSON.stringify(body), ready]);
  if (groups === null || picked === null || allChannels === null) return <p class="muted">{t("common.loading")}</p>;
  const whens: When[] = editing?.status === "scheduled" ? ["at", "cron", "rate"] : ["now", "at", "cron", "rate"];
  const pick = (c: Contact) => {
    if (!contactIds.includes(c.id)) setPicked([...picked, { id: c.id, label: contactLabel(c) }]);
  };
  const found = q.trim() ? (search.items ?? []).filter((c) => !contactIds.includes(c.id)) : [];
  const submit = async (e: Event, launch: boolean) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      if (editing) {
        const c = await api<Campaign>("PATCH", `/v1/campaigns/${encodeURIComponent(editing.id)}`, { ...body, title });
        onSaved?.(c);
        return;
      }
      const c = await post<Campaign>("/v1/campaigns", { ...body, title });
      if (launch) await post<Campaign>(`/v1/campaigns/${c.id}/launch`, {});
      navigate(`/campaigns/${encodeURIComponent(c.id)}`);
    } catch (err) {
      setErrors(errorsOf(err));
    } finally {
      setBusy(false);
    }
  };
  const headingId = editing ? "camp-edit" : "camp-new";
  return (
    <form class="card wide" onSubmit={(e) => void submit(e, true)} aria-labelledby={headingId}>
      <h2 id={headingId}>{editing ? t("camp.edit") : t("camp.new")}</h2>
      <Field label={t("camp.name")} name="title" errors={errors}>
        {(p) => <input {...p} value={title} onInput={(e) => setTitle((e.target as HTMLInputElement).value)} />}
      </Field>
      <Field label={t("send.channel")} name="channel_id" errors={errors}>
        {(p) => (
          <select {...p} value={cid} onChange={(e) => setChannelId((e.target as HTMLSelectElement).value)}>
            {channels.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name} — {c.sender}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t("camp.kind")} name="kind" errors={errors} hint={t("camp.kindhint")}>
        {(p) => (
          <select {...p} value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as "alert" | "marketing")}>
            <option value="alert">{t("camp.kind.alert")}</option>
            <option value="marketing">{t("camp.kind.marketing")}</option>
          </select>
        )}
      </Field>
      {kind === "marketing" && cid ? <QuietHoursSummary channelId={cid} /> : null}
      <fieldset>
        <legend>{t("camp.audience")}</legend>
        <label class="check">
          <input type="checkbox" checked={all} onChange={(e) => setAll((e.target as HTMLInputElement).checked)} /> {t("camp.all")}
        </label>
        {groups.map((g) => (
          <label key={g.id} class="check">
            <input
              type="checkbox"
              checked={groupIds.includes(g.id)}
              onChange={(e) =>
                setGroupIds((e.target as HTMLInputElement).checked ? [...groupIds, g.id] : groupIds.filter((x) => x !== g.id))
              }
            />{" "}
            {g.name}
          </label>
        ))}
        <label class="check">
          <input type="checkbox" checked={managers} onChange={(e) => setManagers((e.target as HTMLInputElement).checked)} />{" "}
          {t("camp.managers")}
        </label>
      </fieldset>
      <fieldset class="managers">
        <legend>{t("camp.contacts")}</legend>
        {picked.length ? (
          <ul class="chips" data-testid="picked-contacts">
            {picked.map((p) => (
              <li key={p.id} class="chip">
                {p.label}{" "}
                <button
                  type="button"
                  class="small"
                  aria-label={t("camp.unpick", { name: p.label })}
                  onClick={() => setPicked(picked.filter((x) => x.id !== p.id))}
                >
                  ×
                </button>
              </li>
            ))}
          </ul>
        ) : null}
        <Field label={t("camp.findcontacts")} name="audience.contact_ids" errors={errors}>
          {(p) => <input {...p} type="search" autoComplete="off" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />}
        </Field>
        {found.length ? (
          <ul class="picklist" data-testid="contact-results">
            {found.map((c) => (
              <li key={c.id}>
                <button type="button" class="link" onClick={() => pick(c)}>
                  {t("contacts.pickmanager", { name: contactLabel(c) })}
                </button>
                <span class="muted"> {c.mobile ?? ""}</span>
              </li>
            ))}
          </ul>
        ) : q.trim() && search.items !== null && !search.items.length ? (
          <p class="muted">{t("camp.nocontacts")}</p>
        ) : null}
      </fieldset>
      <Field label={t("camp.numbers")} name="audience.numbers" errors={errors}>
        {(p) => <textarea {...p} rows={2} value={numbers} onInput={(e) => setNumbers((e.target as HTMLTextAreaElement).value)} />}
      </Field>
      <Field label={t("send.text")} name="text" errors={errors} hint={t("camp.texthint")}>
        {(p) => <textarea {...p} rows={4} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />}
      </Field>
      <fieldset>
        <legend>{t("camp.when")}</legend>
        {whens.map((w) => (
          <label key={w} class="check">
            <input type="radio" name="when" checked={when === w} onChange={() => setWhen(w)} /> {t(`camp.when.${w}`)}
          </label>
        ))}
        {when === "at" ? (
          <Field label={t("camp.at")} name="schedule.at" errors={errors}>
            {(p) => <input {...p} type="datetime-local" value={at} onInput={(e) => setAt((e.target as HTMLInputElement).value)} />}
          </Field>
        ) : null}
        {when === "cron" ? (
          <Field label={t("camp.cron")} name="schedule.cron" errors={errors} hint="0 9 ? * MON *">
            {(p) => <input {...p} value={cron} onInput={(e) => setCron((e.target as HTMLInputElement).value)} />}
          </Field>
        ) : null}
        {when === "rate" ? (
          <Field label={t("camp.rate")} name="schedule.rate" errors={errors} hint={t("camp.ratehint")}>
            {(p) => <input {...p} value={rate} onInput={(e) => setRate((e.target as HTMLInputElement).value)} />}
          </Field>
        ) : null}
        {when !== "now" ? (
          <Field label={t("camp.zone")} name="schedule.time_zone" errors={errors}>
            {(p) => <input {...p} value={zone} onInput={(e) => setZone((e.target as HTMLInputElement).value)} />}
          </Field>
        ) : null}
      </fieldset>
      <div class="preview" role="status" aria-live="polite" data-testid="campaign-preview">
        {preview ? (
          <>
            <p>{t("camp.previewline", { recipients: preview.recipients, segments: preview.segments, credits: preview.credits })}</p>
            {Object.keys(preview.excluded).length ? (
              <p class="muted">
                {t("camp.excluded")}: {Object.entries(preview.excluded).map(([k, v]) => `${k} ${num(v)}`).join(", ")}
              </p>
            ) : null}
            <p class="muted">
              {Object.entries(preview.by_country)
                .map(([c, v]) => `${c}: ${num(v.recipients)} / ${num(v.credits)}`)
                .join(" · ")}
            </p>
            {preview.longest_text ? (
              <pre class="sms" data-testid="longest">
                {preview.longest_text}
              </pre>
            ) : null}
            {preview.per_recipient?.length ? (
              <table data-testid="preview-recipients">
                <caption class="muted">{t("camp.firstrecipients", { n: preview.per_recipient.length })}</caption>
                <thead>
                  <tr>
                    <th>{t("camp.number")}</th>
                    <th>{t("send.text")}</th>
                    <th>{t("camp.credits")}</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.per_recipient.map((r) => (
                    <tr key={r.number}>
                      <td>{r.number}</td>
                      <td>{r.text}</td>
                      <td>{num(r.credits)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : null}
          </>
        ) : (
          <FormError errors={previewError} known={[]} />
        )}
      </div>
      <FormError errors={errors} known={["title", "channel_id", "kind", "text", "audience.numbers", "audience.contact_ids", "schedule"]} />
      <div class="row">
        {editing ? (
          <>
            <button type="button" disabled={busy} onClick={() => onCancel?.()}>
              {t("common.cancel")}
            </button>
            <button type="submit" class="primary" disabled={busy || !ready || !title.trim()}>
              {t("camp.savechanges")}
            </button>
          </>
        ) : (
          <>
            <button type="button" disabled={busy || !ready || !title.trim()} onClick={(e) => void submit(e, false)}>
              {t("camp.save")}
            </button>
            <button type="submit" class="primary" disabled={busy || !ready || !title.trim()}>
              {when === "now" ? t("camp.launch") : t("camp.schedule")}
            </button>
          </>
        )}
      </div>
    </form>
  );
}

/** Recipients shown per page of the detail (the API's page size; "Load more" reads the next). */
const RECIPIENT_PAGE = 100;
const RECIPIENT_STATES = ["pending", "held", "queued", "excluded", "cancelled"] as const;

/** The run's recipients, filtered by status, a page at a time: the first page refreshes while the
 * campaign runs; once more pages are read, what is on screen stays put until the filter changes. */
function Recipients({ id }: { id: string }) {
  const [status, setStatus] = useState("");
  const [head, setHead] = useState<Page<CampaignRecipient> | null>(null);
  const [more, setMore] = useState<CampaignRecipient[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const want = useRef({ status, paged: false });
  want.current.status = status;
  want.current.paged = more.length > 0;
  const path = (st: string, c: string | null) =>
    `/v1/campaigns/${encodeURIComponent(id)}/recipients${qs({ status: st, limit: RECIPIENT_PAGE, cursor: c })}`;
  usePolling(
    async () => {
      if (want.current.paged) return;
      const st = status;
      const page = await get<Page<CampaignRecipient>>(path(st, null));
      if (want.current.status === st && !want.current.paged) setHead(page);
    },
    3000,
    [id, status],
  );
  const filter = (st: string) => {
    setStatus(st);
    setHead(null);
    setMore([]);
    setCursor(null);
  };
  const next = more.length ? cursor : (head?.next_cursor ?? null);
  const loadMore = async () => {
    if (!next) return;
    setLoading(true);
    const st = status;
    try {
      const page = await get<Page<CampaignRecipient>>(path(st, next));
      if (want.current.status !== st) return;
      setMore([...more, ...page.items]);
      setCursor(page.next_cursor ?? null);
    } finally {
      setLoading(false);
    }
  };
  const rows = head ? [...head.items, ...more] : null;
  return (
    <section aria-labelledby="camp-recipients">
      <h2 id="camp-recipients">{t("camp.recipients")}</h2>
      <div class="row wrap" role="group" aria-label={t("camp.filter")}>
        {["", ...RECIPIENT_STATES].map((s) => (
          <button key={s} type="button" class="small" aria-pressed={status === s} onClick={() => filter(s)}>
            {s ? t(`camp.rstate.${s as (typeof RECIPIENT_STATES)[number]}`) : t("common.all")}
          </button>
        ))}
      </div>
      {rows === null ? (
        <p class="muted">{t("common.loading")}</p>
      ) : (
        <>
          <table data-testid="campaign-recipients">
            <thead>
              <tr>
                <th>{t("camp.number")}</th>
                <th>{t("camp.status")}</th>
                <th>{t("sent.status")}</th>
                <th>{t("send.text")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.number}>
                  <td>{r.number}</td>
                  <td>
                    {r.status}
                    {r.reason ? ` (${r.reason})` : ""}
                    {r.not_before ? ` → ${dateTime(r.not_before)}` : ""}
                  </td>
                  <td>{r.message_status ?? ""}</td>
                  <td>{r.text}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="pager">
            <span class="muted" data-testid="recipients-shown">
              {t("camp.shown", { n: rows.length })}
            </span>
            {next ? (
              <button type="button" class="small" disabled={loading} onClick={() => void loadMore()}>
                {t("camp.loadmore")}
              </button>
            ) : null}
          </div>
        </>
      )}
    </section>
  );
}

/** One campaign: its state and counts (refreshed), the controls its state allows, an edit form for
 * a draft or scheduled one, its recipients (paged). */
export function CampaignPage({ id }: { id: string }) {
  const [c, setC] = useState<Campaign | null>(null);
  const [editing, setEditing] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  usePolling(
    async () => {
      setC(await get<Campaign>(`/v1/campaigns/${encodeURIComponent(id)}`));
    },
    3000,
    [id],
  );
  if (!c) return <p class="muted">{t("common.loading")}</p>;
  const act = async (what: string, body: unknown = {}) => {
    setErrors({});
    try {
      setC(await api<Campaign>("POST", `/v1/campaigns/${encodeURIComponent(id)}/${what}`, body));
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const k = c.counts;
  const editable = c.status === "draft" || c.status === "scheduled";
  const deletable = ["draft", "scheduled", "completed", "cancelled", "failed"].includes(c.status);
  const remove = async () => {
    if (!confirm(t("camp.deleteconfirm", { title: c.title }))) return;
    setErrors({});
    try {
      await api("DELETE", `/v1/campaigns/${encodeURIComponent(id)}`);
      navigate("/campaigns");
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  if (editing && editable)
    return (
      <Composer
        editing={c}
        onSaved={(saved) => {
          setC(saved);
          setEditing(false);
        }}
        onCancel={() => setEditing(false)}
      />
    );
  return (
    <section class="card wide" aria-labelledby="camp-title">
      <h1 id="camp-title">{c.title}</h1>
      <p>
        <strong data-testid="campaign-status">{t(`camp.state.${c.status}`)}</strong>
        {c.status_reason ? ` — ${c.status_reason}` : ""}
        {c.schedule ? (
          <span data-testid="campaign-schedule">
            {` · ${c.schedule.at ?? c.schedule.cron ?? c.schedule.rate} (${c.schedule.time_zone})`}
          </span>
        ) : null}
      </p>
      <pre class="sms" data-testid="campaign-text">
        {c.text}
      </pre>
      <dl class="counts" data-testid="campaign-counts">
        {(["recipients", "queued", "sent", "delivered", "failed", "held", "excluded", "skipped", "cancelled", "credits"] as const).map(
          (key) => (
            <div key={key}>
              <dt>{t(`camp.count.${key}`)}</dt>
              <dd>{num(k[key])}</dd>
            </div>
          ),
        )}
      </dl>
      <div class="row">
        {c.status === "draft" ? (
          <button class="primary" onClick={() => void act("launch")}>
            {c.schedule ? t("camp.schedule") : t("camp.launch")}
          </button>
        ) : null}
        {editable ? <button onClick={() => setEditing(true)}>{t("camp.editbutton")}</button> : null}
        {errors["confirm"] !== undefined ? (
          <button onClick={() => void act("launch", { confirm: true })}>{t("camp.confirm")}</button>
        ) : null}
        {c.status === "running" ? <button onClick={() => void act("pause")}>{t("camp.pause")}</button> : null}
        {c.status === "paused" ? <button onClick={() => void act("resume")}>{t("camp.resume")}</button> : null}
        {["draft", "scheduled", "running", "paused"].includes(c.status) ? (
          <button class="danger" onClick={() => void act("cancel")}>
            {t("camp.cancel")}
          </button>
        ) : null}
        {deletable ? (
          <button class="danger" onClick={() => void remove()}>
            {t("camp.delete")}
          </button>
        ) : null}
      </div>
      <FormError errors={errors} known={[]} />
      <Recipients id={id} />
    </section>
  );
}
