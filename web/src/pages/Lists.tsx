import { useEffect, useState } from "preact/hooks";
import { api, get, post, qs, type BlockEntry, type Channel, type ConsentRecord, type ConsentSource, type Direction, type OptOut, type Page, type User } from "../api";
import { Dialog, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { dateTime, t, type Key } from "../i18n";

const DIRECTIONS: Direction[] = ["both", "outbound", "inbound"];
const SOURCES: ConsentSource[] = ["support", "form", "api", "import", "keyword"];

/** Blocklist and opt-outs (admin), each account-wide or per channel, and a number's consent history. */
export function Lists() {
  const [channels, setChannels] = useState<Channel[]>([]);
  const [users, setUsers] = useState<User[]>([]);
  const [history, setHistory] = useState<string | null>(null);
  useEffect(() => {
    void get<Page<Channel>>("/v1/channels?limit=100").then((p) => setChannels(p.items));
    void get<Page<User>>("/v1/users?limit=100").then((p) => setUsers(p.items), () => undefined);
  }, []);
  const scope = (id: string | null) => (id ? (channels.find((c) => c.id === id)?.name ?? id) : t("lists.accountwide"));
  const who = (id: string | null) => (id ? (users.find((u) => u.user_id === id)?.name ?? id) : t("thread.system"));
  return (
    <section class="card wide" aria-labelledby="lists-title">
      <h1 id="lists-title">{t("lists.title")}</h1>
      <Blocklist channels={channels} scope={scope} who={who} />
      <OptOuts channels={channels} scope={scope} who={who} onHistory={setHistory} />
      {history ? <History number={history} scope={scope} who={who} onClose={() => setHistory(null)} /> : null}
    </section>
  );
}

interface Shared {
  channels: Channel[];
  scope: (id: string | null) => string;
  who: (id: string | null) => string;
}

function ScopeSelect({ channels, value, onChange, errors }: { channels: Channel[]; value: string; onChange: (v: string) => void; errors: FieldErrors }) {
  return (
    <Field label={t("lists.scope")} name="channel_id" errors={errors}>
      {(p) => (
        <select {...p} value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
          <option value="">{t("lists.accountwide")}</option>
          {channels.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name} ({c.sender})
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}

function Blocklist({ channels, scope, who }: Shared) {
  const [items, setItems] = useState<BlockEntry[] | null>(null);
  const [number, setNumber] = useState("");
  const [channelId, setChannelId] = useState("");
  const [direction, setDirection] = useState<Direction>("both");
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const load = () => get<Page<BlockEntry>>("/v1/blocklist?limit=500").then((p) => setItems(p.items));
  useEffect(() => void load().catch((e: unknown) => setErrors(errorsOf(e))), []);
  const add = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await post("/v1/blocklist", { number, channel_id: channelId || null, direction, reason: reason || null });
      setNumber("");
      setReason("");
      await load();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const remove = async (b: BlockEntry) => {
    setErrors({});
    try {
      await api("DELETE", `/v1/blocklist/${encodeURIComponent(b.number)}${qs({ channel_id: b.channel_id })}`);
      await load();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <section aria-labelledby="block-title">
      <h2 id="block-title">{t("lists.blocklist")}</h2>
      <form class="subcard" onSubmit={(e) => void add(e)} aria-label={t("lists.block")}>
        <div class="grid2">
          <Field label={t("lists.number")} name="number" errors={errors}>
            {(p) => <input {...p} type="tel" required autoComplete="off" value={number} onInput={(e) => setNumber((e.target as HTMLInputElement).value)} />}
          </Field>
          <ScopeSelect channels={channels} value={channelId} onChange={setChannelId} errors={errors} />
          <Field label={t("lists.direction")} name="direction" errors={errors}>
            {(p) => (
              <select {...p} value={direction} onChange={(e) => setDirection((e.target as HTMLSelectElement).value as Direction)}>
                {DIRECTIONS.map((d) => (
                  <option key={d} value={d}>
                    {t(`direction.${d}` as Key)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          <Field label={t("lists.reason")} name="reason" errors={errors}>
            {(p) => <input {...p} maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />}
          </Field>
        </div>
        <FormError errors={errors} known={["number", "channel_id", "direction", "reason"]} />
        <button type="submit" class="primary">
          {t("lists.block")}
        </button>
      </form>
      {items?.length === 0 ? <p class="muted">{t("lists.noblocks")}</p> : null}
      {items?.length ? (
        <div class="table-wrap">
          <table data-testid="blocklist">
            <thead>
              <tr>
                <th scope="col">{t("lists.number")}</th>
                <th scope="col">{t("lists.scope")}</th>
                <th scope="col">{t("lists.direction")}</th>
                <th scope="col">{t("lists.reason")}</th>
                <th scope="col">{t("lists.since")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((b) => (
                <tr key={`${b.channel_id ?? ""}:${b.number}`} data-number={b.number}>
                  <td>{b.number}</td>
                  <td>{scope(b.channel_id)}</td>
                  <td>{t(`direction.${b.direction}` as Key)}</td>
                  <td>{b.reason ?? ""}</td>
                  <td>
                    {dateTime(b.created_at)} <span class="muted">· {who(b.created_by)}</span>
                  </td>
                  <td>
                    <button type="button" class="small" aria-label={t("lists.unblock", { number: b.number })} onClick={() => void remove(b)}>
                      {t("common.remove")}
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

function OptOuts({ channels, scope, who, onHistory }: Shared & { onHistory: (n: string) => void }) {
  const [items, setItems] = useState<OptOut[] | null>(null);
  const [number, setNumber] = useState("");
  const [channelId, setChannelId] = useState("");
  const [reason, setReason] = useState("");
  const [source, setSource] = useState<ConsentSource>("support");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [optingIn, setOptingIn] = useState<OptOut | null>(null);
  const load = () => get<Page<OptOut>>("/v1/opt-outs?limit=500").then((p) => setItems(p.items));
  useEffect(() => void load().catch((e: unknown) => setErrors(errorsOf(e))), []);
  const add = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await post("/v1/opt-outs", { number, channel_id: channelId || null, reason, source });
      setNumber("");
      setReason("");
      await load();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <section aria-labelledby="optout-title">
      <h2 id="optout-title">{t("lists.optouts")}</h2>
      <form class="subcard" onSubmit={(e) => void add(e)} aria-label={t("lists.optout")}>
        <div class="grid2">
          <Field label={t("lists.number")} name="number" errors={errors}>
            {(p) => <input {...p} type="tel" required autoComplete="off" value={number} onInput={(e) => setNumber((e.target as HTMLInputElement).value)} />}
          </Field>
          <ScopeSelect channels={channels} value={channelId} onChange={setChannelId} errors={errors} />
          <Field label={t("lists.reason")} name="reason" errors={errors} hint={t("lists.reasonhint")}>
            {(p) => <input {...p} required maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />}
          </Field>
          <Field label={t("lists.source")} name="source" errors={errors}>
            {(p) => (
              <select {...p} value={source} onChange={(e) => setSource((e.target as HTMLSelectElement).value as ConsentSource)}>
                {SOURCES.map((s) => (
                  <option key={s} value={s}>
                    {t(`source.${s}` as Key)}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        <FormError errors={errors} known={["number", "channel_id", "reason", "source"]} />
        <button type="submit" class="primary">
          {t("lists.optout")}
        </button>
      </form>
      {items?.length === 0 ? <p class="muted">{t("lists.nooptouts")}</p> : null}
      {items?.length ? (
        <div class="table-wrap">
          <table data-testid="optouts">
            <thead>
              <tr>
                <th scope="col">{t("lists.number")}</th>
                <th scope="col">{t("lists.scope")}</th>
                <th scope="col">{t("lists.reason")}</th>
                <th scope="col">{t("lists.source")}</th>
                <th scope="col">{t("lists.since")}</th>
                <th scope="col">
                  <span class="sr-only">{t("common.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((o) => (
                <tr key={`${o.channel_id ?? ""}:${o.number}`} data-number={o.number}>
                  <td>{o.number}</td>
                  <td>{scope(o.channel_id)}</td>
                  <td>{o.reason}</td>
                  <td>{t(`source.${o.source}` as Key)}</td>
                  <td>
                    {dateTime(o.created_at)} <span class="muted">· {who(o.created_by)}</span>
                  </td>
                  <td class="nowrap">
                    <button type="button" class="small" aria-label={t("lists.historyof", { number: o.number })} onClick={() => onHistory(o.number)}>
                      {t("lists.history")}
                    </button>{" "}
                    <button type="button" class="small" aria-label={t("lists.optinof", { number: o.number })} onClick={() => setOptingIn(o)}>
                      {t("lists.optin")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <LookUp onHistory={onHistory} />
      {optingIn ? (
        <OptIn
          entry={optingIn}
          onClose={() => setOptingIn(null)}
          onDone={async () => {
            setOptingIn(null);
            await load();
          }}
        />
      ) : null}
    </section>
  );
}

function LookUp({ onHistory }: { onHistory: (n: string) => void }) {
  const [number, setNumber] = useState("");
  return (
    <form
      class="inline-form"
      aria-label={t("lists.lookup")}
      onSubmit={(e) => {
        e.preventDefault();
        if (number.trim()) onHistory(number.trim());
      }}
    >
      <Field label={t("lists.number")} name="lookup">
        {(p) => <input {...p} type="tel" autoComplete="off" value={number} onInput={(e) => setNumber((e.target as HTMLInputElement).value)} />}
      </Field>
      <button type="submit">{t("lists.history")}</button>
    </form>
  );
}

function OptIn({ entry, onClose, onDone }: { entry: OptOut; onClose: () => void; onDone: () => Promise<void> }) {
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      await api("DELETE", `/v1/opt-outs/${encodeURIComponent(entry.number)}${qs({ channel_id: entry.channel_id, reason, source: "support" })}`);
      await onDone();
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <Dialog title={t("lists.optinof", { number: entry.number })} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <p class="muted">{t("lists.optinhint")}</p>
        <Field label={t("lists.reason")} name="reason" errors={errors}>
          {(p) => <input {...p} required maxLength={500} value={reason} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />}
        </Field>
        <FormError errors={errors} known={["reason"]} />
        <div class="row">
          <button type="button" onClick={onClose}>
            {t("common.cancel")}
          </button>
          <button type="submit" class="primary">
            {t("lists.optin")}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function History({ number, scope, who, onClose }: { number: string; scope: Shared["scope"]; who: Shared["who"]; onClose: () => void }) {
  const [items, setItems] = useState<ConsentRecord[] | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  useEffect(() => {
    void get<Page<ConsentRecord>>(`/v1/opt-outs/${encodeURIComponent(number)}/history?limit=100`).then(
      (p) => setItems(p.items),
      (e: unknown) => setErrors(errorsOf(e)),
    );
  }, [number]);
  return (
    <Dialog title={t("lists.historyof", { number })} onClose={onClose}>
      <FormError errors={errors} known={[]} />
      {items?.length === 0 ? <p class="muted">{t("lists.nohistory")}</p> : null}
      {items?.length ? (
        <ol class="history-list" data-testid="consent-history">
          {items.map((r) => (
            <li key={r.id} data-event={r.event}>
              <strong>{t(`consent.${r.event}` as Key)}</strong> · {scope(r.channel_id)} · {dateTime(r.at)}
              <div class="muted">
                {r.reason} · {t(`source.${r.source}` as Key)} · {who(r.by)}
              </div>
            </li>
          ))}
        </ol>
      ) : null}
    </Dialog>
  );
}
