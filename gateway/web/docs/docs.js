// The API reference page (/docs): reads /openapi.json and lists every route with its
// method, summary, parameters, request body and responses. The DOM is built with
// textContent only: nothing from the document is ever parsed as HTML.

const METHODS = ["get", "post", "put", "patch", "delete", "head", "options", "trace"];

/** An element with attributes and children (strings become text). */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function code(text) {
  return el("code", {}, text);
}

/** The document's descriptions mark code with backticks: `page` becomes <code>page</code>. */
function prose(text) {
  const parts = String(text || "").split("`");
  return parts.map((part, index) => (index % 2 === 1 ? code(part) : part));
}

/** A schema as a short name: `MovieOut`, `array of MovieOut`, `TokenPair or AccessToken`. */
function schemaName(schema) {
  if (!schema || typeof schema !== "object") return "";
  if (schema.$ref) return schema.$ref.split("/").pop();
  if (schema.type === "array") return `array of ${schemaName(schema.items) || "values"}`;
  for (const key of ["anyOf", "oneOf"]) {
    if (Array.isArray(schema[key])) {
      const names = schema[key].map(schemaName).filter((name) => name && name !== "null");
      const nullable = schema[key].some((item) => item && item.type === "null");
      return names.join(" or ") + (nullable ? " or null" : "");
    }
  }
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((item) => JSON.stringify(item)).join(" | ");
  const type = schema.title || schema.type || "";
  return schema.format ? `${type} (${schema.format})` : type;
}

/** `{movie_id}` -> anchor-safe id part. */
function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

function parametersSection(operation, headingId) {
  const parameters = operation.parameters || [];
  if (parameters.length === 0) return null;
  const rows = parameters.map((parameter) => {
    const schema = parameter.schema || {};
    return el(
      "tr",
      {},
      el("th", { scope: "row" }, code(parameter.name)),
      el("td", {}, parameter.in),
      el("td", {}, parameter.required ? "yes" : "no"),
      el("td", {}, schemaName(schema)),
      el("td", {}, ...prose(parameter.description || schema.description)),
    );
  });
  return el(
    "section",
    { "aria-labelledby": headingId },
    el("h4", { id: headingId }, "Parameters"),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...["Name", "In", "Required", "Type", "Description"].map(
        (title) => el("th", { scope: "col" }, title),
      ))),
      el("tbody", {}, ...rows),
    ),
  );
}

function requestBodySection(operation, headingId) {
  const body = operation.requestBody;
  if (!body) return null;
  const content = body.content || {};
  const items = Object.entries(content).map(([mediaType, media]) =>
    el("li", {}, code(mediaType), ": ", schemaName(media.schema) || "any"),
  );
  return el(
    "section",
    { "aria-labelledby": headingId },
    el("h4", { id: headingId }, "Request body"),
    el("p", {}, body.required ? "Required." : "Optional."),
    el("ul", {}, ...items),
  );
}

function responsesSection(operation, headingId) {
  const rows = Object.entries(operation.responses || {}).map(([status, answer]) => {
    const media = Object.values(answer.content || {})[0];
    const headers = Object.keys(answer.headers || {});
    return el(
      "tr",
      {},
      el("th", { scope: "row" }, status),
      el("td", {}, ...prose(answer.description)),
      el("td", {}, media ? schemaName(media.schema) : "no body"),
      el("td", {}, headers.join(", ")),
    );
  });
  return el(
    "section",
    { "aria-labelledby": headingId },
    el("h4", { id: headingId }, "Responses"),
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, ...["Status", "Meaning", "Body", "Headers"].map(
        (title) => el("th", { scope: "col" }, title),
      ))),
      el("tbody", {}, ...rows),
    ),
  );
}

function operationArticle(path, method, operation) {
  const id = `${method}-${slug(path)}`;
  const auth = (operation.security || []).length > 0;
  return el(
    "article",
    { id, class: "operation", "aria-labelledby": `${id}-title` },
    el(
      "h3",
      { id: `${id}-title` },
      el("span", { class: `method method-${method}` }, method.toUpperCase()),
      " ",
      code(path),
    ),
    el("p", { class: "summary" }, operation.summary || ""),
    operation.description ? el("p", {}, ...prose(operation.description)) : null,
    auth ? el("p", { class: "auth" }, "Needs ", code("Authorization: Bearer <access token>"), ".") : null,
    parametersSection(operation, `${id}-parameters`),
    requestBodySection(operation, `${id}-body`),
    responsesSection(operation, `${id}-responses`),
  );
}

/** Operations grouped by their first tag, in the order of the document's `tags`. */
function groups(spec) {
  const byTag = new Map((spec.tags || []).map((tag) => [tag.name, { tag, operations: [] }]));
  for (const [path, item] of Object.entries(spec.paths || {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const name = (operation.tags || ["other"])[0];
      if (!byTag.has(name)) byTag.set(name, { tag: { name }, operations: [] });
      byTag.get(name).operations.push({ path, method, operation });
    }
  }
  return [...byTag.values()].filter((group) => group.operations.length > 0);
}

function render(spec) {
  const main = document.getElementById("main");
  const contents = document.getElementById("contents");
  const list = el("ul");
  for (const { tag, operations } of groups(spec)) {
    const id = `tag-${slug(tag.name)}`;
    const section = el(
      "section",
      { id, "aria-labelledby": `${id}-title` },
      el("h2", { id: `${id}-title` }, tag.name),
      tag.description ? el("p", {}, tag.description) : null,
    );
    const links = el("ul");
    for (const { path, method, operation } of operations) {
      const article = operationArticle(path, method, operation);
      section.append(article);
      links.append(el("li", {}, el("a", { href: `#${article.id}` }, `${method.toUpperCase()} ${path}`)));
    }
    main.append(section);
    list.append(el("li", {}, el("a", { href: `#${id}` }, tag.name), links));
  }
  contents.append(el("h2", { class: "visually-hidden" }, "Routes"), list);
  if (spec.info && spec.info.description) {
    document.getElementById("description").replaceChildren(...prose(spec.info.description));
  }
  const count = main.querySelectorAll("article.operation").length;
  document.getElementById("status").textContent = `${count} routes.`;
  if (location.hash) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

async function load() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("/openapi.json", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`the server answered ${response.status}`);
    render(await response.json());
  } catch (error) {
    status.textContent = `The API description could not be loaded: ${error.message}.`;
  }
}

load();
