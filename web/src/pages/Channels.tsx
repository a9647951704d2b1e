import { useEffect, useState } from "preact/hooks";
import { api, get, post, type Channel, type Page, type QueueSettings } from "../api";
import { CopyButton, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { t, type Key } from "../i18n";
import { navigate } from "../router";

const PROVIDERS = ["sandbox", "aws_sms", "twilio"] as const;
type Provider = (typeof PROVIDERS)[number];
/** Non-secret settings and secret keys each provider takes (connectors/settings.py). */
const SETTINGS: Record<Provider, string[]> = {
  sandbox: [],
  aws_sms: ["origination_identity", "configuration_set"],
  twilio: ["account_sid", "messaging_service_sid"],
};
const SECRETS: Record<Provider, string[]> = { sandbox: [], aws_sms: [], twilio: ["auth_token"] };

export function Channels() {
  const [items, setItems] = useState<Channel[] | null>(null);
  const [creating, setCreating] = useState(false);
  const load = () => get<Page<Channel>>("/v1/channels?limit=100").then((p) => setItems(p.items));
  useEffect(() => void load(), []);
  const toggle = async (c: Channel) => {
    await api("PATCH", `/v1/channels/${encodeURIComponent(c.id)}`, { enabled: !c.enabled });
    await load();
  };
  return (
    <section class="card wide" aria-labelledby="channels-title">
      <div class="row">
        <h1 id="channels-title">{t("nav.channels")}</h1>
        <button type="button" class="primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>
          {t("channels.new")}
        </button>
      </div>
      {creating ? (
        <CreateChannel
          onCreated={(c) => {
            setCreating(false);
            navigate(`/admin/channels/${encodeURIComponent(c.id)}`);
          }}
        />
      ) : null}
      {items?.length === 0 ? <p class="muted">{t("channels.none")}</p> : null}
      {items?.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">{t("channels.name")}</th>
              <th scope="col">{t("channels.type")}</th>
              <th scope="col">{t("channels.sender")}</th>
              <th scope="col">{t("channels.provider")}</th>
              <th scope="col">{t("channels.enabled")}</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.id} data-channel={c.name}>
                <td>
                  <a href={`/admin/channels/${encodeURIComponent(c.id)}`}>{c.name}</a>
                </td>
                <td>{t(`channel.${c.type}` as Key)}</td>
                <td>{c.sender}</td>
                <td>{c.provider}</td>
                <td>
                  <button type="button" role="switch" aria-checked={c.enabled} aria-label={t("channels.enabledfor", { name: c.name })} onClick={() => void toggle(c)}>
                    {c.enabled ? t("common.on") : t("common.off")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

function CreateChannel({ onCreated }: { onCreated: (c: Channel) => void }) {
  const [name, setName] = useState("");
  const [type, setType] = useState<"two_way" | "one_way">("two_way");
  const [sender, setSender] = useState("");
  const [provider, setProvider] = useState<Provider>("sandbox");
  const [settings, setSettings] = useState<Record<string, string>>({});
  const [secret, setSecret] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const submit = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    const ps = Object.fromEntries(SETTINGS[provider].filter((k) => settings[k]).map((k) => [k, settings[k]]));
    const sec = Object.fromEntries(SECRETS[provider].filter((k) => secret[k]).map((k) => [k, secret[k]]));
    try {
      const c = await post<Channel>("/v1/channels", {
        name,
        type,
        sender,
        provider,
        provider_settings: ps,
        ...(Object.keys(sec).length ? { provider_secret: sec } : {}),
      });
      onCreated(c);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const known = ["name", "type", "sender", "provider", ...SETTINGS[provider].map((k) => `provider_settings.${k}`), ...SECRETS[provider].map((k) => `provider_secret.${k}`), "provider_settings", "provider_secret"];
  return (
    <form class="subcard" onSubmit={(e) => void submit(e)} aria-label={t("channels.new")}>
      <div class="grid2">
        <Field label={t("channels.name")} name="name" errors={errors}>
          {(p) => <input {...p} required value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
        </Field>
        <Field label={t("channels.type")} name="type" errors={errors}>
          {(p) => (
            <select {...p} value={type} onChange={(e) => setType((e.target as HTMLSelectElement).value as "one_way" | "two_way")}>
              <option value="two_way">{t("channel.two_way")}</option>
              <option value="one_way">{t("channel.one_way")}</option>
            </select>
          )}
        </Field>
        <Field label={t("channels.sender")} name="sender" errors={errors} hint={type === "two_way" ? t("channels.senderhint2") : t("channels.senderhint1")}>
          {(p) => <input {...p} required value={sender} onInput={(e) => setSender((e.target as HTMLInputElement).value)} />}
        </Field>
        <Field label={t("channels.provider")} name="provider" errors={errors}>
          {(p) => (
            <select {...p} value={provider} onChange={(e) => setProvider((e.target as HTMLSelectElement).value as Provider)}>
              {PROVIDERS.map((x) => (
                <option key={x} value={x}>
                  {x}
                </option>
              ))}
            </select>
          )}
        </Field>
        {SETTINGS[provider].map((k) => (
          <Field key={k} label={k} name={`provider_settings.${k}`} errors={errors}>
            {(p) => <input {...p} value={settings[k] ?? ""} onInput={(e) => setSettings({ ...settings, [k]: (e.target as HTMLInputElement).value })} />}
          </Field>
        ))}
        {SECRETS[provider].map((k) => (
          <Field key={k} label={`${k} (${t("channels.secret")})`} name={`provider_secret.${k}`} errors={errors}>
            {(p) => <input {...p} type="password" autoComplete="off" value={secret[k] ?? ""} onInput={(e) => setSecret({ ...secret, [k]: (e.target as HTMLInputElement).value })} />}
          </Field>
        ))}
      </div>
      <FormError errors={errors} known={known} />
      <button type="submit" class="primary">
        {t("channels.create")}
      </button>
    </form>
  );
}

const QUEUE_NUMBERS: (keyof QueueSettings)[] = ["service_level_s", "max_in_queue", "max_queue_time_s", "max_transfer_s", "reopen_window_h"];

export function ChannelDetail({ id }: { id: string }) {
  const [c, setC] = useState<Channel | null>(null);
  const [queue, setQueue] = useState<QueueSettings | null>(null);
  const [ooh, setOoh] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  const load = async () => {
    const ch = await get<Channel>(`/v1/channels/${encodeURIComponent(id)}`);
    setC(ch);
    setQueue(ch.queue);
    setOoh(ch.business_hours.out_of_hours_message ?? "");
  };
  useEffect(() => void load().catch((e: unknown) => setErrors(errorsOf(e))), [id]);
  if (!c || !queue) return <FormError errors={errors} known={[]} />;
  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setSaved(false);
    try {
      await api("PATCH", `/v1/channels/${encodeURIComponent(id)}`, {
        queue,
        business_hours: { ...c.business_hours, out_of_hours_message: ooh || null },
      });
      await load();
      setSaved(true);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const known = [...QUEUE_NUMBERS.map((k) => `queue.${k}`), "queue.strategy", "business_hours.out_of_hours_message"];
  return (
    <section class="card wide" aria-labelledby="channel-title">
      <p>
        <a href="/admin/channels">← {t("nav.channels")}</a>
      </p>
      <h1 id="channel-title">{c.name}</h1>
      <dl class="facts">
        <dt>{t("channels.type")}</dt>
        <dd>{t(`channel.${c.type}` as Key)}</dd>
        <dt>{t("channels.sender")}</dt>
        <dd>{c.sender}</dd>
        <dt>{t("channels.provider")}</dt>
        <dd>
          {c.provider}
          {c.has_secret ? ` · ${t("channels.hassecret")}` : ""}
        </dd>
        <dt>{t("channels.enabled")}</dt>
        <dd>{c.enabled ? t("common.on") : t("common.off")}</dd>
      </dl>
      <h2>{t("channels.webhooks")}</h2>
      <ul class="webhooks">
        {Object.entries(c.webhook_urls).map(([k, url]) => (
          <li key={k}>
            <span class="muted">{k}</span> <code>{url}</code> <CopyButton text={url} />
          </li>
        ))}
      </ul>
      <form onSubmit={(e) => void save(e)}>
        <h2>{t("channels.queue")}</h2>
        <div class="grid2">
          <Field label={t("queue.strategy")} name="queue.strategy" errors={errors}>
            {(p) => (
              <select {...p} value={queue.strategy} onChange={(e) => setQueue({ ...queue, strategy: (e.target as HTMLSelectElement).value as QueueSettings["strategy"] })}>
                {(["manual", "round_robin", "least_busy", "longest_idle"] as const).map((s) => (
                  <option key={s} value={s}>
                    {t(`queue.${s}` as Key)}
                  </option>
                ))}
              </select>
            )}
          </Field>
          {QUEUE_NUMBERS.map((k) => (
            <Field key={k} label={t(`queue.${k}` as Key)} name={`queue.${k}`} errors={errors}>
              {(p) => (
                <input
                  {...p}
                  type="number"
                  inputMode="numeric"
                  value={String(queue[k])}
                  onInput={(e) => setQueue({ ...queue, [k]: Number((e.target as HTMLInputElement).value) })}
                />
              )}
            </Field>
          ))}
        </div>
        <Field label={t("channels.ooh")} name="business_hours.out_of_hours_message" errors={errors}>
          {(p) => <textarea {...p} rows={2} value={ooh} onInput={(e) => setOoh((e.target as HTMLTextAreaElement).value)} />}
        </Field>
        <FormError errors={errors} known={known} />
        <div class="row">
          {saved ? (
            <span class="success" role="status">
              {t("common.saved")}
            </span>
          ) : (
            <span />
          )}
          <button type="submit" class="primary">
            {t("common.save")}
          </button>
        </div>
      </form>
    </section>
  );
}
