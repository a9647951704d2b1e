import { useState } from "preact/hooks";
import type { CsatReport, CsatStats } from "../api";
import { get, type ChannelStats, type QueueEntry, type QueueView } from "../api";
import { duration, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, num, t, type Key } from "../i18n";
import { navigate, path } from "../router";
import { usePolling, useSignal } from "../state";
import { useChannels } from "./Inbox";

const WINDOWS = { "24h": 24, "7d": 24 * 7, "31d": 24 * 31 } as const;
type Window = keyof typeof WINDOWS;
const POLL_MS = 5000;
/** CSAT periods (days, UTC; GET /v1/channels/{id}/csat?days=); 30 is the API's default. */
const CSAT_DAYS = [7, 30, 90, 365] as const;
const CSAT_POLL_MS = 30000;

/** A channel's service level (GET /v1/channels/{id}/stats) and its queue as it stands
 * (GET /v1/channels/{id}/queue), refreshed every 5 s. */
export function Dashboard() {
  const p = useSignal(path);
  const q = new URLSearchParams(p.split("?")[1] ?? "");
  const channels = useChannels();
  const queued = channels.filter((c) => c.type === "two_way");
  const channelId = q.get("channel") ?? queued[0]?.id ?? "";
  const win = (q.get("window") as Window | null) ?? "24h";
  const csatDays = CSAT_DAYS.find((d) => String(d) === q.get("csat")) ?? 30;
  const [stats, setStats] = useState<ChannelStats | null>(null);
  const [queue, setQueue] = useState<QueueView | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  usePolling(
    async () => {
      if (!channelId) return;
      const from = new Date(Date.now() - (WINDOWS[win] ?? 24) * 3600_000).toISOString();
      const base = `/v1/channels/${encodeURIComponent(channelId)}`;
      try {
        const [s, v] = await Promise.all([
          get<ChannelStats>(`${base}/stats?from=${encodeURIComponent(from)}`),
          get<QueueView>(`${base}/queue?limit=200`),
        ]);
        setStats(s);
        setQueue(v);
        setErrors({});
      } catch (e) {
        setErrors(errorsOf(e));
      }
    },
    POLL_MS,
    [channelId, win],
  );
  const go = (channel: string, w: Window, days: number = csatDays) =>
    navigate(`/dashboard?channel=${encodeURIComponent(channel)}&window=${w}&csat=${days}`);
  const s = stats?.channel_id === channelId ? stats : null;
  const v = queue?.channel_id === channelId ? queue : null;
  return (
    <section class="card wide" aria-labelledby="dash-title">
      <h1 id="dash-title">{t("nav.dashboard")}</h1>
      <div class="filters">
        <Field label={t("send.channel")} name="channel" errors={errors}>
          {(fp) => (
            <select {...fp} value={channelId} onChange={(e) => go((e.target as HTMLSelectElement).value, win)}>
              {queued.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} ({c.sender})
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label={t("dash.window")} name="from" errors={errors}>
          {(fp) => (
            <select {...fp} value={win} onChange={(e) => go(channelId, (e.target as HTMLSelectElement).value as Window)}>
              {(Object.keys(WINDOWS) as Window[]).map((w) => (
                <option key={w} value={w}>
                  {t(`dash.w${w}` as Key)}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <FormError errors={errors} known={["channel", "from"]} />
      {channels.length && !queued.length ? <p class="muted">{t("dash.notwoway")}</p> : null}
      {s ? (
        <>
          <h2>{t("dash.servicelevel")}</h2>
          <dl class="tiles" data-testid="stats">
            <Tile label={t("dash.compliance", { s: duration(s.service_level_s) })} value={s.compliance_pct === null ? "–" : `${num(Math.round(s.compliance_pct * 10) / 10)} %`} id="compliance" />
            <Tile label={t("dash.answered")} value={`${num(s.answered)} (${num(s.answered_within_level)} ${t("dash.intime")})`} id="answered" />
            <Tile label={t("dash.abandoned")} value={num(s.abandoned)} id="abandoned" />
            <Tile label={t("dash.timedout")} value={num(s.timed_out)} id="timed-out" />
            <Tile label={t("dash.avgwait")} value={duration(s.avg_wait_s)} id="avg-wait" />
            <Tile label={t("dash.p90wait")} value={duration(s.p90_wait_s)} id="p90-wait" />
            <Tile label={t("dash.waiting")} value={num(s.waiting_now)} id="waiting" />
            <Tile label={t("dash.unassigned")} value={num(s.unassigned_now)} id="unassigned" />
            <Tile label={t("dash.overflow")} value={s.max_in_queue ? `${num(s.overflow_now)} (${t("dash.cap", { n: s.max_in_queue })})` : num(s.overflow_now)} id="overflow" />
          </dl>
          <p class="muted small-text">
            {dateTime(s.start)} – {dateTime(s.end)}
          </p>
        </>
      ) : null}
      {s ? <Csat channelId={channelId} days={csatDays} onDays={(d) => go(channelId, win, d)} /> : null}
      {v ? (
        <>
          <h2>
            {t("dash.queue")} <span class="muted">· {t(`queue.${v.strategy}` as Key)}</span>
          </h2>
          <QueueTable entries={v.waiting} testid="queue-waiting" empty={t("dash.queueempty")} caption={t("dash.queue")} />
          {v.overflow.length ? (
            <>
              <h2>{t("dash.overflowlist")}</h2>
              <QueueTable entries={v.overflow} testid="queue-overflow" empty="" caption={t("dash.overflowlist")} />
            </>
          ) : null}
        </>
      ) : null}
    </section>
  );
}

function Tile({ label, value, id }: { label: string; value: string; id: string }) {
  return (
    <div class="tile">
      <dt>{label}</dt>
      <dd data-testid={`stat-${id}`}>{value}</dd>
    </div>
  );
}

function QueueTable({ entries, testid, empty, caption }: { entries: QueueEntry[]; testid: string; empty: string; caption: string }) {
  if (!entries.length) return <p class="muted">{empty}</p>;
  return (
    <div class="table-wrap">
      <table data-testid={testid}>
        <caption class="sr-only">{caption}</caption>
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">{t("lists.number")}</th>
            <th scope="col">{t("dash.waited")}</th>
            <th scope="col">{t("dash.arrived")}</th>
            <th scope="col">{t("dash.last")}</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((e) => (
            <tr key={e.conversation_id} data-number={e.number}>
              <td class="num">{e.position}</td>
              <td>
                <a href={`/?view=unassigned&c=${encodeURIComponent(e.conversation_id)}`}>{e.number}</a>
              </td>
              <td class="num">{duration(e.waited_s)}</td>
              <td>{dateTime(e.arrived_at)}</td>
              <td class="ellipsis">{e.last_message_preview ?? ""}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Finish bots' satisfaction surveys (issue 15) over their own period (GET /v1/channels/{id}/csat?days=),
 * not the service level's window; refreshed every 30 s. */
function Csat({ channelId, days, onDays }: { channelId: string; days: number; onDays: (d: number) => void }) {
  const [report, setReport] = useState<CsatReport | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  usePolling(
    async () => {
      try {
        setReport(await get<CsatReport>(`/v1/channels/${encodeURIComponent(channelId)}/csat?days=${days}`));
        setErrors({});
      } catch (e) {
        setErrors(errorsOf(e));
      }
    },
    CSAT_POLL_MS,
    [channelId, days],
  );
  const r = report?.channel_id === channelId && report.days === days ? report : null;
  return (
    <section aria-labelledby="csat-title" data-testid="csat-section">
      <h2 id="csat-title">{t("dash.csat")}</h2>
      <div class="filters">
        <Field label={t("dash.csat_period")} name="days" errors={errors}>
          {(fp) => (
            <select {...fp} value={String(days)} onChange={(e) => onDays(Number((e.target as HTMLSelectElement).value))}>
              {CSAT_DAYS.map((d) => (
                <option key={d} value={String(d)}>
                  {t("dash.csat_days", { n: d })}
                </option>
              ))}
            </select>
          )}
        </Field>
      </div>
      <FormError errors={errors} known={["days"]} />
      {r ? (
        <>
          <CsatLine csat={r.csat} />
          <p class="muted small-text">
            {r.since} – {r.until} (UTC)
          </p>
        </>
      ) : null}
    </section>
  );
}

function CsatLine({ csat }: { csat: CsatStats }) {
  if (!csat.asked) return <p data-testid="csat" class="muted">{t("dash.csat_none")}</p>;
  return (
    <p data-testid="csat">
      {t("dash.csat_line", {
        avg: csat.average === null ? "–" : csat.average,
        answered: csat.answered,
        asked: csat.asked,
        rate: csat.response_rate_pct === null ? "–" : `${csat.response_rate_pct} %`,
      })}
    </p>
  );
}
