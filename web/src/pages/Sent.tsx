import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { get, qs, type Message, type MessageStatus, type Page } from "../api";
import { StatusBadge } from "../components";
import { dateTime, t, time, type Key } from "../i18n";
import { path } from "../router";
import { usePolling, useSignal } from "../state";
import { useChannels } from "./Inbox";

const STATUSES: MessageStatus[] = ["queued", "sending", "sent", "delivered", "undelivered", "failed"];

/** The sent overview: filters, and each message's status history. Refreshes while open. */
export function Sent() {
  const p = useSignal(path);
  const open = new URLSearchParams(p.split("?")[1] ?? "").get("id");
  const channels = useChannels();
  const [channelId, setChannelId] = useState("");
  const [status, setStatus] = useState("");
  const [to, setTo] = useState("");
  const [items, setItems] = useState<Message[] | null>(null);
  const [expanded, setExpanded] = useState<string | null>(open);
  usePolling(
    async () => {
      const page = await get<Page<Message>>(`/v1/messages${qs({ channel_id: channelId, status, to, limit: 50 })}`);
      setItems(page.items.filter((m) => m.direction === "outbound"));
    },
    3000,
    [channelId, status, to],
  );
  return (
    <section class="card wide" aria-labelledby="sent-title">
      <h1 id="sent-title">{t("sent.title")}</h1>
      <div class="filters">
        <div class="field">
          <label for="f-channel">{t("send.channel")}</label>
          <select id="f-channel" value={channelId} onChange={(e) => setChannelId((e.target as HTMLSelectElement).value)}>
            <option value="">{t("common.all")}</option>
            {channels.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-status">{t("sent.status")}</label>
          <select id="f-status" value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value)}>
            <option value="">{t("common.all")}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`status.${s}` as Key)}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-to">{t("send.to")}</label>
          <input id="f-to" type="search" value={to} onChange={(e) => setTo((e.target as HTMLInputElement).value)} />
        </div>
      </div>
      {items === null ? <p class="muted">{t("common.loading")}</p> : null}
      {items?.length === 0 ? <p class="muted">{t("sent.empty")}</p> : null}
      {items?.length ? (
        <table data-testid="sent-table">
          <thead>
            <tr>
              <th scope="col">{t("sent.when")}</th>
              <th scope="col">{t("send.to")}</th>
              <th scope="col">{t("send.text")}</th>
              <th scope="col">{t("sent.credits")}</th>
              <th scope="col">{t("sent.status")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <Fragment key={m.id}>
                <tr data-message={m.id} data-status={m.status}>
                  <td>{dateTime(m.created_at)}</td>
                  <td>{m.to}</td>
                  <td class="ellipsis">{m.text}</td>
                  <td>{m.credits}</td>
                  <td>
                    <button
                      type="button"
                      class="link"
                      aria-expanded={expanded === m.id}
                      onClick={() => setExpanded(expanded === m.id ? null : m.id)}
                    >
                      <StatusBadge status={m.status} />
                    </button>
                  </td>
                </tr>
                {expanded === m.id ? (
                  <tr key={`${m.id}-h`} class="history">
                    <td colSpan={5}>
                      <ol>
                        {m.history.map((h, i) => (
                          <li key={i}>
                            <time dateTime={h.at}>{time(h.at)}</time> <StatusBadge status={h.status} /> {h.detail ?? ""}
                          </li>
                        ))}
                      </ol>
                      {m.error ? <p class="field-error">{m.error.message}</p> : null}
                      {m.refunded ? <p class="muted">{t("sent.refunded")}</p> : null}
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
