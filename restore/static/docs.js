// Renders /openapi.json as plain HTML (no CDN-hosted Swagger UI: nothing is fetched from
// elsewhere). All text goes in with textContent.
"use strict";

(async function () {
  const main = document.getElementById("endpoints");
  const el = (tag, text) => {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    return node;
  };
  let spec;
  try {
    spec = await (await fetch("/openapi.json")).json();
  } catch (err) {
    document.getElementById("docs-status").textContent = "Could not load /openapi.json: " + err;
    return;
  }
  main.replaceChildren();
  main.append(el("p", `${spec.info.title} ${spec.info.version}: ${spec.info.description || ""}`));
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const section = el("section");
      section.className = "endpoint";
      section.append(el("h2", `${method.toUpperCase()} ${path}`));
      if (op.description || op.summary) section.append(el("p", op.description || op.summary));
      const body = op.requestBody && op.requestBody.content["application/json"];
      if (body) section.append(el("p", "Request body: " + JSON.stringify(body.schema)));
      for (const [status, response] of Object.entries(op.responses || {})) {
        const json = response.content && response.content["application/json"];
        const schema = json ? " " + JSON.stringify(json.schema) : "";
        section.append(el("p", `${status}: ${response.description}${schema}`));
      }
      main.append(section);
    }
  }
  const schemas = (spec.components && spec.components.schemas) || {};
  main.append(el("h2", "Schemas"));
  main.append(el("pre", JSON.stringify(schemas, null, 2)));
})();
