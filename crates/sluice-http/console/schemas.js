// Sluice console: the schema registry's pages (subjects, versions, schema text, diffs), plugged
// into app.js through window.Console. Reads the read-only proxy under /v1/schemas/ (the registry
// itself listens on another port).
"use strict";

(function () {
  const C = window.Console;
  const { h, api, card, table, pageHead, setCrumbs, show, errorBox, fmtInt } = C;
  const enc = encodeURIComponent;

  const ICON = "M12 2 3 6.5v11L12 22l9-4.5v-11zm0 2.2 6.6 3.3L12 10.8 5.4 7.5zM5 9.1l6 3v7.6l-6-3zm8 10.6v-7.6l6-3v7.6z";

  /** The schema text laid out for reading: JSON (Avro, JSON Schema) indented, Protobuf as is. */
  function pretty(v) {
    if (v.schemaType === "PROTOBUF") return v.schemaText || v.schema;
    try { return JSON.stringify(JSON.parse(v.schema), null, 2); } catch (e) { return v.schema; }
  }

  function typeBadge(t) {
    return h("span", { class: `badge schema-type ${String(t).toLowerCase()}` }, t);
  }

  // -------------------------------------------------------------------------------------------
  // Line diff: longest common subsequence over lines, so a field added in the middle of a
  // record shows as added lines, not as everything after it changed.

  /** [{op: " " | "+" | "-", line}] turning `a` into `b`. */
  function lineDiff(a, b) {
    const n = a.length;
    const m = b.length;
    // Common prefix and suffix first: most versions differ in a few lines.
    let pre = 0;
    while (pre < n && pre < m && a[pre] === b[pre]) pre++;
    let suf = 0;
    while (suf < n - pre && suf < m - pre && a[n - 1 - suf] === b[m - 1 - suf]) suf++;
    const A = a.slice(pre, n - suf);
    const B = b.slice(pre, m - suf);
    const out = a.slice(0, pre).map((line) => ({ op: " ", line }));
    if (A.length * B.length > 4e6) {
      // Too large for the table: show the middle as removed then added.
      A.forEach((line) => out.push({ op: "-", line }));
      B.forEach((line) => out.push({ op: "+", line }));
    } else {
      const w = B.length + 1;
      const L = new Uint32Array((A.length + 1) * w);
      for (let i = A.length - 1; i >= 0; i--) {
        for (let j = B.length - 1; j >= 0; j--) {
          L[i * w + j] = A[i] === B[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
        }
      }
      let i = 0;
      let j = 0;
      while (i < A.length && j < B.length) {
        if (A[i] === B[j]) { out.push({ op: " ", line: A[i] }); i++; j++; }
        else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) out.push({ op: "-", line: A[i++] });
        else out.push({ op: "+", line: B[j++] });
      }
      while (i < A.length) out.push({ op: "-", line: A[i++] });
      while (j < B.length) out.push({ op: "+", line: B[j++] });
    }
    a.slice(n - suf).forEach((line) => out.push({ op: " ", line }));
    return out;
  }

  function diffView(rows) {
    const cls = { " ": "same", "+": "add", "-": "del" };
    return h("pre", { class: "diff", id: "schema-diff" },
      rows.map((r) => h("div", { class: `diff-line ${cls[r.op]}` }, h("span", { class: "diff-op" }, r.op), r.line)));
  }

  // -------------------------------------------------------------------------------------------
  // Subjects

  async function subjectsPage(ctx, query) {
    setCrumbs([{ label: "Schemas" }]);
    const subjects = await api("/v1/schemas/subjects");
    let filter = query.get("q") || "";
    const body = h("div", {});
    const draw = () => {
      const rows = subjects.filter((s) => s.subject.toLowerCase().includes(filter.toLowerCase()));
      body.replaceChildren(table([
        { label: "Subject", cls: "name", cell: (s) => h("a", { href: `#/schemas/${enc(s.subject)}` }, s.subject) },
        { label: "Latest version", num: true, cell: (s) => String(s.latest_version) },
        { label: "Schema id", num: true, cell: (s) => h("span", { class: "mono" }, String(s.id)) },
        { label: "Type", cell: (s) => typeBadge(s.schema_type) },
        { label: "Compatibility", cell: (s) => h("span", { class: "badge plain" }, s.compatibility) },
        { label: "Versions", num: true, cell: (s) => fmtInt(s.versions) },
      ], rows, filter ? "No subject matches the filter." : "No schemas registered yet."));
    };
    const types = {};
    for (const s of subjects) types[s.schema_type] = (types[s.schema_type] || 0) + 1;
    show(ctx,
      pageHead("Schemas", `${fmtInt(subjects.length)} subjects` + Object.entries(types).map(([k, v]) => ` · ${v} ${k}`).join("")),
      card("Subjects", body, {
        right: h("input", { type: "search", placeholder: "Filter subjects…", value: filter, "aria-label": "Filter subjects", oninput: (e) => { filter = e.target.value; draw(); } }),
      }));
    draw();
  }

  // -------------------------------------------------------------------------------------------
  // One subject: versions, the chosen version's schema and references, a diff of two versions

  async function subjectPage(ctx, subject, query) {
    setCrumbs([{ label: "Schemas", href: "#/schemas" }, { label: subject }]);
    const info = await api(`/v1/schemas/subjects/${enc(subject)}`);
    const numbers = info.versions.map((v) => v.version);
    const latest = numbers[numbers.length - 1];
    const pick = (key, dflt) => (numbers.includes(Number(query.get(key))) ? Number(query.get(key)) : dflt);
    const state = {
      v: pick("v", latest),
      from: pick("from", numbers.length > 1 ? numbers[numbers.length - 2] : latest),
      to: pick("to", latest),
    };
    const cache = {};
    const version = (n) => (cache[n] = cache[n] || api(`/v1/schemas/subjects/${enc(subject)}/versions/${n}`));

    const syncUrl = () => {
      const q = new URLSearchParams({ v: String(state.v), from: String(state.from), to: String(state.to) });
      history.replaceState(null, "", `#/schemas/${enc(subject)}?${q}`);
    };

    const versionsBody = h("div", {});
    const schemaBody = h("div", { class: "card-body" });
    const schemaTitle = h("h2", {});
    const diffBody = h("div", { class: "card-body" });
    const diffSummary = h("span", { class: "hint", id: "diff-summary" });

    const drawVersions = () => {
      versionsBody.replaceChildren(table([
        { label: "Version", cell: (v) => h("a", { href: "#", class: "version-link", dataset: { version: String(v.version) }, onclick: (e) => { e.preventDefault(); select(v.version); } }, `v${v.version}`) },
        { label: "Schema id", num: true, cell: (v) => h("span", { class: "mono" }, String(v.id)) },
        { label: "Type", cell: (v) => typeBadge(v.schemaType) },
        { label: "Refs", num: true, cell: (v) => fmtInt(v.references) },
      ], [...info.versions].reverse(), "No versions."));
      versionsBody.querySelectorAll("tbody tr").forEach((tr) => {
        tr.classList.toggle("selected", tr.querySelector(".version-link").dataset.version === String(state.v));
      });
    };

    const select = async (n) => {
      state.v = n;
      syncUrl();
      drawVersions();
      schemaTitle.textContent = `Version ${n}`;
      let v;
      try { v = await version(n); } catch (e) { if (ctx.alive) schemaBody.replaceChildren(errorBox(e)); return; }
      if (!ctx.alive || state.v !== n) return;
      const refs = v.references || [];
      schemaBody.replaceChildren(
        h("div", { class: "schema-meta" },
          typeBadge(v.schemaType), " ", h("span", {}, "schema id ", h("code", {}, String(v.id)))),
        h("pre", { class: "msg-value json schema-text", id: "schema-text" }, pretty(v)),
        h("h3", { class: "minor" }, "References"),
        refs.length
          ? h("ul", { class: "refs", id: "schema-refs" }, refs.map((r) =>
            h("li", {}, h("code", {}, r.name), " → ", h("a", { href: `#/schemas/${enc(r.subject)}?v=${r.version}` }, `${r.subject} v${r.version}`))))
          : h("div", { class: "muted" }, "None."),
        h("h3", { class: "minor" }, "Referenced by"),
        (v.referencedBy || []).length
          ? h("div", {}, "schema ids ", v.referencedBy.map((id, i) => [i ? ", " : "", h("code", {}, String(id))]))
          : h("div", { class: "muted" }, "No other schema references this version."));
    };

    const fromSel = h("select", { id: "diff-from", "aria-label": "Diff from version" }, numbers.map((n) => h("option", { value: String(n) }, `v${n}`)));
    const toSel = h("select", { id: "diff-to", "aria-label": "Diff to version" }, numbers.map((n) => h("option", { value: String(n) }, `v${n}`)));
    fromSel.value = String(state.from);
    toSel.value = String(state.to);
    const drawDiff = async () => {
      state.from = Number(fromSel.value);
      state.to = Number(toSel.value);
      syncUrl();
      let a;
      let b;
      try { [a, b] = await Promise.all([version(state.from), version(state.to)]); } catch (e) {
        if (ctx.alive) diffBody.replaceChildren(errorBox(e));
        return;
      }
      if (!ctx.alive || Number(fromSel.value) !== state.from || Number(toSel.value) !== state.to) return;
      const rows = lineDiff(pretty(a).split("\n"), pretty(b).split("\n"));
      const added = rows.filter((r) => r.op === "+").length;
      const removed = rows.filter((r) => r.op === "-").length;
      diffSummary.textContent = state.from === state.to ? "same version" : `+${added} −${removed} lines`;
      diffBody.replaceChildren(diffView(rows));
    };
    fromSel.addEventListener("change", drawDiff);
    toSel.addEventListener("change", drawDiff);

    show(ctx,
      pageHead(h("span", {}, subject), h("span", {}, "Compatibility ", h("code", { id: "subject-compat" }, info.compatibility),
        ` · ${info.versions.length} version${info.versions.length === 1 ? "" : "s"} · latest v${latest}`)),
      h("div", { class: "grid schema-grid" },
        card("Versions", versionsBody, { id: "schema-versions" }),
        h("section", { class: "card", id: "schema-version" }, h("div", { class: "card-head" }, schemaTitle), schemaBody)),
      card("Diff", diffBody, {
        id: "schema-diff-card",
        right: h("div", { class: "toolbar" }, fromSel, h("span", { class: "muted" }, "→"), toSel, diffSummary),
      }));
    drawVersions();
    await Promise.all([select(state.v), drawDiff()]);
  }

  C.addNav("#/schemas", "Schemas", "schemas", ICON);
  C.addRoute(/^\/schemas\/?$/, "schemas", subjectsPage);
  C.addRoute(/^\/schemas\/([^/?]+)\/?$/, "schemas", subjectPage);
  C.lineDiff = lineDiff;
  C.refresh();
})();
