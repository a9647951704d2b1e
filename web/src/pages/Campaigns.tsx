import { useEffect, useState } from "preact/hooks";
import { api, get, post, qs, type Group, type Page } from "../api";
import { errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, num, t } from "../i18n";
import { navigate } from "../router";
import { usePolling } from "../state";
import { useChannels } from "./Inbox";
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
export interface Campaign {
  id: string;
  title: string;
  channel_id: string;
  text: string;
  kind: "alert" | "marketing";
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

function Composer() {
  const channels = useChannels().filter((c) => c.enabled);
  const [groups, setGroups] = useState<Group[] | null>(null);
  const [title, setTitle] = useState("");
  const [channelId, setChannelId] = useState("");
  const [kind, setKind] = useState<"alert" | "marketing">("alert");
  const [text, setText] = useState("");
  const [groupIds, setGroupIds] = useState<string[]>([]);
  const [managers, setManagers] = useState(false);
  const [numbers, setNumbers] = useState("");
  const [when, setWhen] = useState<"now" | "at" | "cron">("now");
  const [at, setAt] = useState("");
  const [cron, setCron] = useState("");
  const [zone, setZone] = useState(Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC");
  const [preview, setPreview] = useState<CampaignPreview | null>(null);
  const [previewError, setPreviewError] = useState<FieldErrors>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    void get<Page<Group>>("/v1/groups?limit=100").then((p) => setGroups(p.items), () => setGroups([]));
  }, []);
  const cid = channelId || channels[0]?.id || "";
  const nums = numbers.split(/[\s,;]+/).filter(Boolean);
  const audience = { group_ids: groupIds, numbers: nums, include_managers: managers };
  const schedule =
    when === "at" ? { at, time_zone: zone } : when === "cron" ? { cron, time_zone: zone } : null;
  const body = { title: title || "-", channel_id: cid, text, kind, audience, schedule };
  const ready = !!cid && !!text.trim() && (groupIds.length > 0 || nums.length > 0);
  // the live preview: the same planning and pricing as the launch, a moment after typing stops
  useEffect(() => {
    if (!ready) {
      setPreview(null);
      return;
    }
    const handle = setTimeout(() => {
      post<CampaignPreview>("/v1/campaigns/preview", body).then(
        (p) => {
          setPreview(p);
          setPreviewError({});
        },
        (e: unknown) => setPreviewError(errorsOf(e)),
      );
    }, 400);
    return () => clearTimeout(handle);
  }, [JSON.stringify(body), ready]);
  if (groups === null) return <p class="muted">{t("common.loading")}</p>;
  const submit = async (e: Event, launch: boolean) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    try {
      const c = await post<Campaign>("/v1/campaigns", { ...body, title });
      if (launch) await post<Campaign>(`/v1/campaigns/${c.id}/launch`, {});
      navigate(`/campaigns/${encodeURIComponent(c.id)}`);
    } catch (err) {
      setErrors(errorsOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card wide" onSubmit={(e) => void submit(e, true)} aria-labelledby="camp-new">
      <h2 id="camp-new">{t("camp.new")}</h2>
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
      <Field label={t("camp.numbers")} name="audience.numbers" errors={errors}>
        {(p) => <textarea {...p} rows={2} value={numbers} onInput={(e) => setNumbers((e.target as HTMLTextAreaElement).value)} />}
      </Field>
      <Field label={t("send.text")} name="text" errors={errors} hint={t("camp.texthint")}>
        {(p) => <textarea {...p} rows={4} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />}
      </Field>
      <fieldset>
        <legend>{t("camp.when")}</legend>
        {(["now", "at", "cron"] as const).map((w) => (
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
          </>
        ) : (
          <FormError errors={previewError} known={[]} />
        )}
      </div>
      <FormError errors={errors} known={["title", "channel_id", "kind", "text", "audience.numbers", "schedule"]} />
      <div class="row">
        <button type="button" disabled={busy || !ready || !title.trim()} onClick={(e) => void submit(e, false)}>
          {t("camp.save")}
        </button>
        <button type="submit" class="primary" disabled={busy || !ready || !title.trim()}>
          {when === "now" ? t("camp.launch") : t("camp.schedule")}
        </button>
      </div>
    </form>
  );
}

/** One campaign: its state and counts (refreshed), the controls its state allows, its recipients. */
export function CampaignPage({ id }: { id: string }) {
  const [c, setC] = useState<Campaign | null>(null);
  const [rows, setRows] = useState<CampaignRecipient[] | null>(null);
  const [status, setStatus] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  usePolling(
    async () => {
      setC(await get<Campaign>(`/v1/campaigns/${encodeURIComponent(id)}`));
      setRows((await get<Page<CampaignRecipient>>(`/v1/campaigns/${encodeURIComponent(id)}/recipients${qs({ status, limit: 100 })}`)).items);
    },
    3000,
    [id, status],
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
  return (
    <section class="card wide" aria-labelledby="camp-title">
      <h1 id="camp-title">{c.title}</h1>
      <p>
        <strong data-testid="campaign-status">{t(`camp.state.${c.status}`)}</strong>
        {c.status_reason ? ` — ${c.status_reason}` : ""}
        {c.schedule ? ` · ${c.schedule.at ?? c.schedule.cron ?? c.schedule.rate} (${c.schedule.time_zone})` : ""}
      </p>
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
            {t("camp.launch")}
          </button>
        ) : null}
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
      </div>
      <FormError errors={errors} known={[]} />
      <div class="filters">
        <div class="field">
          <label for="r-status">{t("camp.status")}</label>
          <select id="r-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">{t("common.all")}</option>
            {["pending", "held", "queued", "excluded", "cancelled"].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
      </div>
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
          {(rows ?? []).map((r) => (
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
    </section>
  );
}
