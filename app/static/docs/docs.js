// The API docs page: reads /openapi.json from this origin and lists every operation.
// Everything is built with DOM calls and textContent, never from HTML strings.
"use strict";

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) {
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function schemaText(schema) {
  if (!schema) return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.anyOf) return schema.anyOf.map(schemaText).join(" | ");
  if (schema.type === "array") return `array of ${schemaText(schema.items)}`;
  if (schema.enum) return schema.enum.join(" | ");
  return schema.type || "";
}

function parameterTable(parameters) {
  const rows = parameters.map((p) => el("tr", {},
    el("td", {}, el("code", {}, p.name)), el("td", {}, p.in),
    el("td", {}, schemaText(p.schema)), el("td", {}, p.required ? "yes" : ""),
    el("td", {}, p.description || "")));
  return el("table", {}, el("tr", {}, ...["name", "in", "type", "required", "description"]
    .map((h) => el("th", {}, h))), ...rows);
}

function operation(path, method, op) {
  const secured = (op.security || []).length > 0;
  const optional = (op.security || []).some((s) => Object.keys(s).length === 0);
  const summary = el("summary", {}, el("span", { class: `method ${method}` },
    method.toUpperCase()), el("span", { class: "path" }, path), " ", op.summary || "");
  if (secured) summary.append(el("span", { class: "lock" }, optional ? "(key optional)" : "(key)"));
  const body = el("details", { class: "op" }, summary);
  if (op.description) body.append(el("p", {}, op.description));
  if (op.parameters && op.parameters.length) body.append(parameterTable(op.parameters));
  const codes = Object.entries(op.responses || {}).map(([code, r]) => `${code} ${r.description || ""}`);
  body.append(el("p", {}, "Responses: ", codes.join("; ")));
  return body;
}

async function main() {
  const host = document.getElementById("operations");
  let doc;
  try {
    const response = await fetch("/openapi.json");
    if (!response.ok) throw new Error(`the document answered ${response.status}`);
    doc = await response.json();
  } catch (error) {
    host.replaceChildren(el("p", { class: "error" }, `Could not load the API description: ${error.message}`));
    return;
  }
  document.getElementById("title").textContent = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("summary").textContent = doc.info.summary || "";
  const byTag = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operation(path, method, op));
    }
  }
  const toc = document.getElementById("toc");
  host.replaceChildren();
  for (const [tag, ops] of byTag) {
    const id = `tag-${tag.replace(/[^A-Za-z0-9_-]/g, "-")}`;
    toc.append(el("a", { href: `#${id}` }, tag));
    host.append(el("section", { id }, el("h2", {}, tag), ...ops));
  }
}

main();
