import { useEffect, useState } from "preact/hooks";
import { api, get, post, qs, type Contact, type ContactField, type Group, type GroupPreview, type Page, type Rule, type RuleOp, type RuleValue } from "../api";
import { errorFor, errorsOf, Field, FormError, type FieldErrors } from "../components";
import { num, plural, t, type Key } from "../i18n";
import { navigate } from "../router";
import { contactLabel, Pager, useContactSearch, useDebounced } from "./Contacts";

/** /groups: the groups by name; a static group is created here, a dynamic one in the rule editor. */
export function Groups({ admin }: { admin: boolean }) {
  const [items, setItems] = useState<Group[] | null>(null);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [next, setNext] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const cursor = cursors[cursors.length - 1] ?? null;
  useEffect(() => {
    void get<Page<Group>>(`/v1/groups${qs({ limit: 50, cursor })}`).then(
      (p) => {
        setItems(p.items);
        setNext(p.next_cursor ?? null);
      },
      (e: unknown) => setErrors(errorsOf(e)),
    );
  }, [cursor]);
  const create = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    try {
      const g = await post<Group>("/v1/groups", { name: name.trim(), kind: "static" });
      navigate(`/groups/${encodeURIComponent(g.id)}`);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  return (
    <section class="card wide" aria-labelledby="groups-title">
      <div class="row">
        <h1 id="groups-title">{t("groups.title")}</h1>
        {admin ? (
          <a class="button primary" href="/groups/new">
            {t("groups.newdynamic")}
          </a>
        ) : null}
      </div>
      {admin ? (
        <form class="inline-form" aria-label={t("groups.newstatic")} onSubmit={(e) => void create(e)}>
          <Field label={t("groups.staticname")} name="name" errors={errors}>
            {(p) => <input {...p} required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
          </Field>
          <button type="submit" class="primary">
            {t("groups.createstatic")}
          </button>
        </form>
      ) : null}
      <FormError errors={errors} known={["name"]} />
      {items?.length === 0 ? <p class="muted">{t("groups.none")}</p> : null}
      {items?.length ? (
        <div class="table-wrap">
          <table data-testid="groups">
            <thead>
              <tr>
                <th scope="col">{t("groups.name")}</th>
                <th scope="col">{t("groups.kind")}</th>
                <th scope="col">{t("groups.description")}</th>
              </tr>
            </thead>
            <tbody>
              {items.map((g) => (
                <tr key={g.id} data-group={g.name}>
                  <td>
                    <a href={`/groups/${encodeURIComponent(g.id)}`}>{g.name}</a>
                  </td>
                  <td>{t(`groups.kind.${g.kind}` as Key)}</td>
                  <td>{g.description ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <Pager pageNo={cursors.length} prev={cursors.length > 1 ? () => setCursors(cursors.slice(0, -1)) : null} next={next ? () => setCursors([...cursors, next]) : null} />
    </section>
  );
}

/** /groups/{id}: a static group's members, or a dynamic group's rule editor (/groups/new: a new one). */
export function GroupPage({ id, admin }: { id: string; admin: boolean }) {
  const [group, setGroup] = useState<Group | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  useEffect(() => {
    setGroup(null);
    setErrors({});
    if (id !== "new") void get<Group>(`/v1/groups/${encodeURIComponent(id)}`).then(setGroup, (e: unknown) => setErrors(errorsOf(e)));
  }, [id]);
  const remove = async () => {
    if (!group || !confirm(t("groups.confirmdelete", { name: group.name }))) return;
    try {
      await api("DELETE", `/v1/groups/${encodeURIComponent(group.id)}`);
      navigate("/groups");
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  if (id === "new") return <RuleEditor group={null} admin={admin} />;
  return (
    <section class="card wide" aria-labelledby="group-title">
      <p>
        <a href="/groups">← {t("groups.back")}</a>
      </p>
      <div class="row">
        <h1 id="group-title">{group?.name ?? t("common.loading")}</h1>
        {admin && group ? (
          <button type="button" class="danger" onClick={() => void remove()}>
            {t("groups.delete")}
          </button>
        ) : null}
      </div>
      <FormError errors={errors} known={[]} />
      {group?.kind === "static" ? <StaticMembers group={group} admin={admin} /> : null}
      {group?.kind === "dynamic" ? <RuleEditor group={group} admin={admin} embedded /> : null}
    </section>
  );
}

/** A static group's members (a page at a time): remove one or the selected ones; add by search. */
function StaticMembers({ group, admin }: { group: Group; admin: boolean }) {
  const base = `/v1/groups/${encodeURIComponent(group.id)}`;
  const [members, setMembers] = useState<Contact[] | null>(null);
  const [count, setCount] = useState<number | null>(null);
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [next, setNext] = useState<string | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [errors, setErrors] = useState<FieldErrors>({});
  const [tick, setTick] = useState(0);
  const cursor = cursors[cursors.length - 1] ?? null;
  useEffect(() => {
    void get<Page<Contact>>(`${base}/members${qs({ limit: 50, cursor })}`).then((p) => {
      setMembers(p.items);
      setNext(p.next_cursor ?? null);
    });
    void post<GroupPreview>(`${base}/preview`, { limit: 1 }).then((p) => setCount(p.count));
  }, [group.id, cursor, tick]);
  const change = async (path: string, ids: string[]) => {
    setErrors({});
    try {
      await post(path, { contact_ids: ids });
      setSelected(new Set());
      setTick((n) => n + 1);
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const toggle = (cid: string, on: boolean) => {
    const s = new Set(selected);
    if (on) s.add(cid);
    else s.delete(cid);
    setSelected(s);
  };
  return (
    <>
      <h2>
        {t("groups.members")} <span class="muted" data-testid="member-count">{count === null ? "" : `(${num(count)})`}</span>
      </h2>
      <FormError errors={errors} known={[]} />
      {members?.length === 0 ? <p class="muted">{t("groups.nomembers")}</p> : null}
      {members?.length ? (
        <div class="table-wrap">
          <table data-testid="members">
            <thead>
              <tr>
                {admin ? (
                  <th scope="col">
                    <span class="sr-only">{t("groups.select")}</span>
                  </th>
                ) : null}
                <th scope="col">{t("contacts.name")}</th>
                <th scope="col">{t("contacts.mobile")}</th>
                {admin ? (
                  <th scope="col">
                    <span class="sr-only">{t("common.actions")}</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {members.map((c) => (
                <tr key={c.id} data-member={contactLabel(c)}>
                  {admin ? (
                    <td>
                      <input type="checkbox" aria-label={t("groups.selectmember", { name: contactLabel(c) })} checked={selected.has(c.id)} onChange={(e) => toggle(c.id, (e.target as HTMLInputElement).checked)} />
                    </td>
                  ) : null}
                  <td>
                    <a href={`/contacts/${encodeURIComponent(c.id)}`}>{contactLabel(c)}</a>
                  </td>
                  <td class="nowrap">{c.mobile ?? ""}</td>
                  {admin ? (
                    <td>
                      <button type="button" class="small" aria-label={t("groups.removemember", { name: contactLabel(c) })} onClick={() => void change(`${base}/members/remove`, [c.id])}>
                        {t("common.remove")}
                      </button>
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {admin && selected.size ? (
        <button type="button" onClick={() => void change(`${base}/members/remove`, [...selected])}>
          {t("groups.removeselected", { n: selected.size })}
        </button>
      ) : null}
      <Pager pageNo={cursors.length} prev={cursors.length > 1 ? () => setCursors(cursors.slice(0, -1)) : null} next={next ? () => setCursors([...cursors, next]) : null} />
      {admin ? <AddMembers onAdd={(ids) => change(`${base}/members`, ids)} exclude={new Set(members?.map((m) => m.id) ?? [])} /> : null}
    </>
  );
}

function AddMembers({ onAdd, exclude }: { onAdd: (ids: string[]) => Promise<void>; exclude: Set<string> }) {
  const [q, setQ] = useState("");
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const search = useContactSearch(q, 20);
  const found = q.trim() ? (search.items ?? []).filter((c) => !exclude.has(c.id)) : [];
  return (
    <form
      class="subcard"
      aria-label={t("groups.addmembers")}
      onSubmit={(e) => {
        e.preventDefault();
        if (picked.size) void onAdd([...picked]).then(() => setPicked(new Set()));
      }}
    >
      <h3>{t("groups.addmembers")}</h3>
      <div class="field">
        <label for="member-search">{t("contacts.search")}</label>
        <input id="member-search" type="search" autoComplete="off" value={q} onInput={(e) => setQ((e.target as HTMLInputElement).value)} />
      </div>
      {found.length ? (
        <fieldset class="checks">
          <legend class="sr-only">{t("groups.found")}</legend>
          {found.map((c) => (
            <label key={c.id}>
              <input
                type="checkbox"
                checked={picked.has(c.id)}
                onChange={(e) => {
                  const s = new Set(picked);
                  if ((e.target as HTMLInputElement).checked) s.add(c.id);
                  else s.delete(c.id);
                  setPicked(s);
                }}
              />
              {contactLabel(c)} <span class="muted">{c.mobile ?? ""}</span>
            </label>
          ))}
        </fieldset>
      ) : q.trim() && search.items ? (
        <p class="muted">{t("contacts.none")}</p>
      ) : null}
      <button type="submit" class="primary" disabled={!picked.size}>
        {t("groups.addselected", { n: picked.size })}
      </button>
    </form>
  );
}

// -- the rule editor ---------------------------------------------------------------------------------------

type Node = { id: number; combo: "all" | "any"; children: Node[] } | { id: number; field: string; op: RuleOp; value: string };
const OPS: RuleOp[] = ["equals", "not_equals", "contains", "starts_with", "greater", "less", "is_set", "in"];
const BUILTIN_FIELDS = ["first_name", "last_name", "name", "mobile", "other_phone", "email", "language", "time_zone", "country", "tags", "created_at"];
let nextId = 1;
const cond = (): Node => ({ id: nextId++, field: "first_name", op: "equals", value: "" });

function toNode(r: Rule): Node {
  if ("all" in r) return { id: nextId++, combo: "all", children: r.all.map(toNode) };
  if ("any" in r) return { id: nextId++, combo: "any", children: r.any.map(toNode) };
  const v = r.value;
  return { id: nextId++, field: r.field, op: r.op, value: v === null || v === undefined ? "" : Array.isArray(v) ? v.join(", ") : String(v) };
}

/** The editor's text as the API's typed value: numbers for number fields, true/false for booleans and
 * is_set, a list for `in`. */
function valueOf(text: string, op: RuleOp, type: string | undefined): RuleValue {
  const one = (s: string): string | number => (type === "number" && s.trim() !== "" && !Number.isNaN(Number(s)) ? Number(s) : s);
  if (op === "is_set") return text !== "false";
  if (op === "in")
    return text
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map(one);
  if (type === "boolean" && (text === "true" || text === "false")) return text === "true";
  return one(text);
}

function toRule(n: Node, types: Record<string, string>): Rule {
  if ("combo" in n) return n.combo === "all" ? { all: n.children.map((c) => toRule(c, types)) } : { any: n.children.map((c) => toRule(c, types)) };
  return { field: n.field, op: n.op, value: valueOf(n.value, n.op, types[n.field]) };
}

function replace(root: Node, id: number, next: Node | null): Node {
  if (!("combo" in root)) return root;
  const children: Node[] = [];
  for (const c of root.children) {
    if (c.id === id) {
      if (next) children.push(next);
    } else children.push(replace(c, id, next));
  }
  return { ...root, children };
}

/** A dynamic group's rule (all/any, nested) with the live count (POST /v1/groups/rule-preview, debounced)
 * and the API's errors on the condition they name (`rule.all.1.op`). */
function RuleEditor({ group, admin, embedded }: { group: Group | null; admin: boolean; embedded?: boolean }) {
  const [name, setName] = useState(group?.name ?? "");
  const [root, setRoot] = useState<Node>(() =>
    group?.rule ? (("all" in group.rule || "any" in group.rule) ? toNode(group.rule) : { id: nextId++, combo: "all", children: [toNode(group.rule)] }) : { id: nextId++, combo: "all", children: [cond()] },
  );
  const [defs, setDefs] = useState<ContactField[]>([]);
  const [preview, setPreview] = useState<GroupPreview | null>(null);
  const [ruleErrors, setRuleErrors] = useState<FieldErrors>({});
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    void get<{ items: ContactField[] }>("/v1/contact-fields").then((r) => setDefs(r.items), () => undefined);
  }, []);
  const types: Record<string, string> = Object.fromEntries(defs.map((d) => [d.key, d.type]));
  const rule = toRule(root, types);
  const ruleJson = useDebounced(JSON.stringify(rule), 300);
  useEffect(() => {
    let live = true;
    post<GroupPreview>("/v1/groups/rule-preview", { rule: JSON.parse(ruleJson) as Rule, limit: 5 }).then(
      (p) => {
        if (!live) return;
        setPreview(p);
        setRuleErrors({});
      },
      (e: unknown) => {
        if (!live) return;
        setPreview(null);
        setRuleErrors(errorsOf(e));
      },
    );
    return () => {
      live = false;
    };
  }, [ruleJson]);
  const save = async (e: Event) => {
    e.preventDefault();
    setErrors({});
    setSaved(false);
    try {
      if (group) {
        await api<Group>("PATCH", `/v1/groups/${encodeURIComponent(group.id)}`, { rule });
        setSaved(true);
      } else {
        const g = await post<Group>("/v1/groups", { name: name.trim(), kind: "dynamic", rule });
        navigate(`/groups/${encodeURIComponent(g.id)}`);
      }
    } catch (err) {
      setErrors(errorsOf(err));
    }
  };
  const allErrors = { ...ruleErrors, ...errors };
  const fields = [...BUILTIN_FIELDS, ...defs.map((d) => d.key)];
  const fieldLabel = (f: string) => defs.find((d) => d.key === f)?.label ?? (BUILTIN_FIELDS.includes(f) ? t(`rule.field.${f}` as Key) : f);
  const body = (
    <form aria-label={t("rule.title")} onSubmit={(e) => void save(e)}>
      {!group ? (
        <Field label={t("groups.name")} name="name" errors={errors}>
          {(p) => <input {...p} required maxLength={100} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />}
        </Field>
      ) : null}
      <div class="preview-count" aria-live="polite" data-testid="rule-count">
        {preview ? plural("rule.matches", preview.count) : Object.keys(ruleErrors).length ? t("rule.invalid") : "…"}
      </div>
      {preview?.items.length ? (
        <p class="muted small-text" data-testid="rule-first">
          {preview.items.map(contactLabel).join(", ")}
          {preview.count > preview.items.length ? ", …" : ""}
        </p>
      ) : null}
      <RuleGroup node={root} path="rule" root={root} setRoot={setRoot} fields={fields} fieldLabel={fieldLabel} defs={defs} errors={allErrors} disabled={!admin} />
      <FormError errors={allErrors} known={["rule", "name"]} />
      {admin ? (
        <div class="row">
          <span class="success" role="status">
            {saved ? t("common.saved") : ""}
          </span>
          <button type="submit" class="primary">
            {group ? t("rule.save") : t("groups.createdynamic")}
          </button>
        </div>
      ) : null}
    </form>
  );
  if (embedded) return body;
  return (
    <section class="card wide" aria-labelledby="newgroup-title">
      <p>
        <a href="/groups">← {t("groups.back")}</a>
      </p>
      <h1 id="newgroup-title">{t("groups.newdynamic")}</h1>
      {body}
    </section>
  );
}

interface GroupProps {
  node: Node;
  path: string;
  root: Node;
  setRoot: (n: Node) => void;
  fields: string[];
  fieldLabel: (f: string) => string;
  defs: ContactField[];
  errors: FieldErrors;
  disabled: boolean;
}

function RuleGroup(props: GroupProps) {
  const { node, path, root, setRoot, errors, disabled } = props;
  if (!("combo" in node)) return null;
  const update = (n: Node) => setRoot(n.id === root.id ? n : replace(root, n.id, n));
  const own = errors[path] ?? errors[`${path}.${node.combo}`];
  return (
    <fieldset class="rule-group" data-path={path}>
      <legend>
        <label>
          <span class="sr-only">{t("rule.combine")} </span>
          <select disabled={disabled} value={node.combo} onChange={(e) => update({ ...node, combo: (e.target as HTMLSelectElement).value as "all" | "any" })}>
            <option value="all">{t("rule.all")}</option>
            <option value="any">{t("rule.any")}</option>
          </select>
        </label>
      </legend>
      {own ? (
        <p class="field-error" role="alert" data-field={path}>
          {own}
        </p>
      ) : null}
      <ol class="rule-list">
        {node.children.map((c, n) => {
          const sub = `${path}.${node.combo}.${n}`;
          return (
            <li key={c.id}>
              {"combo" in c ? <RuleGroup {...props} node={c} path={sub} /> : <RuleCondition {...props} node={c} path={sub} />}
              {!disabled ? (
                <button type="button" class="small" aria-label={t("rule.remove", { n: n + 1 })} onClick={() => setRoot(replace(root, c.id, null))}>
                  ×
                </button>
              ) : null}
            </li>
          );
        })}
      </ol>
      {!disabled ? (
        <div class="rule-actions">
          <button type="button" class="small" onClick={() => update({ ...node, children: [...node.children, cond()] })}>
            {t("rule.addcondition")}
          </button>
          <button type="button" class="small" onClick={() => update({ ...node, children: [...node.children, { id: nextId++, combo: node.combo === "all" ? "any" : "all", children: [cond()] }] })}>
            {t("rule.addgroup")}
          </button>
        </div>
      ) : null}
    </fieldset>
  );
}

function RuleCondition(props: GroupProps) {
  const { node, path, root, setRoot, fields, fieldLabel, defs, errors, disabled } = props;
  if ("combo" in node) return null;
  const update = (patch: Partial<{ field: string; op: RuleOp; value: string }>) => setRoot(replace(root, node.id, { ...node, ...patch }));
  const def = defs.find((d) => d.key === node.field);
  const condError = errorFor(errors, path) !== undefined && !errorFor(errors, `${path}.field`) && !errorFor(errors, `${path}.op`) && !errorFor(errors, `${path}.value`) ? errors[path] : undefined;
  const choices = node.op === "is_set" ? ["true", "false"] : def?.type === "boolean" ? ["true", "false"] : def?.type === "choice" && node.op !== "in" ? (def.options ?? []) : null;
  return (
    <div class="rule-cond" data-path={path}>
      <Field label={t("rule.field")} name={`${path}.field`} errors={errors}>
        {(p) => (
          <select {...p} disabled={disabled} value={node.field} onChange={(e) => update({ field: (e.target as HTMLSelectElement).value })}>
            {fields.includes(node.field) ? null : <option value={node.field}>{node.field}</option>}
            {fields.map((f) => (
              <option key={f} value={f}>
                {fieldLabel(f)}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t("rule.op")} name={`${path}.op`} errors={errors}>
        {(p) => (
          <select {...p} disabled={disabled} value={node.op} onChange={(e) => update({ op: (e.target as HTMLSelectElement).value as RuleOp })}>
            {OPS.map((o) => (
              <option key={o} value={o}>
                {t(`rule.op.${o}` as Key)}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label={t("rule.value")} name={`${path}.value`} errors={errors} hint={node.op === "in" ? t("rule.inhint") : undefined}>
        {(p) =>
          choices ? (
            <select {...p} disabled={disabled} value={node.value} onChange={(e) => update({ value: (e.target as HTMLSelectElement).value })}>
              {node.op !== "is_set" ? <option value="">–</option> : null}
              {choices.map((o) => (
                <option key={o} value={o}>
                  {o === "true" ? t(node.op === "is_set" ? "rule.isset.true" : "common.yes") : o === "false" ? t(node.op === "is_set" ? "rule.isset.false" : "common.no") : o}
                </option>
              ))}
            </select>
          ) : (
            <input
              {...p}
              disabled={disabled}
              type={node.op !== "in" && def?.type === "number" ? "number" : node.op !== "in" && (def?.type === "date" || node.field === "created_at") ? "date" : "text"}
              step="any"
              value={node.value}
              onInput={(e) => update({ value: (e.target as HTMLInputElement).value })}
            />
          )
        }
      </Field>
      {condError ? (
        <p class="field-error" role="alert" data-field={path}>
          {condError}
        </p>
      ) : null}
    </div>
  );
}
