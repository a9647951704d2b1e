import { useState } from "preact/hooks";
import { post, type Message } from "../api";
import { Counter, errorsOf, Field, FormError, StatusBadge, usePreview, type FieldErrors } from "../components";
import { t } from "../i18n";
import { useChannels } from "./Inbox";

/** Send one SMS: the caller's channels (one-way sender IDs and two-way numbers apart), the
 * recipient as E.164 before sending, the live counter, the API's errors next to their fields. */
export function SendSms() {
  const channels = useChannels().filter((c) => c.enabled);
  const [channelId, setChannelId] = useState("");
  const [to, setTo] = useState("");
  const [text, setText] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [sent, setSent] = useState<Message | null>(null);
  const [busy, setBusy] = useState(false);
  const cid = channelId || channels[0]?.id || "";
  const { preview, number, error } = usePreview(text, cid || null, to);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setSent(null);
    try {
      const m = await post<Message>("/v1/messages", { channel_id: cid, to, text });
      setSent(m);
      setText("");
    } catch (err) {
      setErrors(errorsOf(err)); // the text and number stay as typed
    } finally {
      setBusy(false);
    }
  };
  const group = (type: "one_way" | "two_way") => channels.filter((c) => c.type === type);
  return (
    <form class="card narrow" onSubmit={(e) => void submit(e)} aria-labelledby="send-title">
      <h1 id="send-title">{t("send.title")}</h1>
      {channels.length === 0 ? <p class="muted">{t("send.nochannels")}</p> : null}
      <Field label={t("send.channel")} name="channel_id" errors={errors}>
        {(p) => (
          <select {...p} value={cid} onChange={(e) => setChannelId((e.target as HTMLSelectElement).value)}>
            {(["two_way", "one_way"] as const).map((type) =>
              group(type).length ? (
                <optgroup key={type} label={t(`channel.${type}`)}>
                  {group(type).map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.name} — {c.sender}
                    </option>
                  ))}
                </optgroup>
              ) : null,
            )}
          </select>
        )}
      </Field>
      <Field
        label={t("send.to")}
        name="to"
        errors={errors}
        hint={<span data-testid="e164">{number ? t("send.e164", { number }) : t("send.tohint")}</span>}
      >
        {(p) => <input {...p} type="tel" autoComplete="off" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />}
      </Field>
      <Field label={t("send.text")} name="text" errors={errors}>
        {(p) => <textarea {...p} rows={5} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />}
      </Field>
      <Counter preview={preview} error={error} />
      <FormError errors={errors} known={["channel_id", "to", "text"]} />
      <div class="row">
        <span />
        <button type="submit" class="primary" disabled={busy || !cid || !to.trim() || !text.trim()}>
          {t("send.submit")}
        </button>
      </div>
      {sent ? (
        <p class="success" role="status" data-testid="sent-result">
          {t("send.queued", { number: sent.to, credits: sent.credits })} <StatusBadge status={sent.status} />{" "}
          <a href={`/sent?id=${encodeURIComponent(sent.id)}`}>{t("send.follow")}</a>
        </p>
      ) : null}
    </form>
  );
}
