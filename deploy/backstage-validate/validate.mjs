#!/usr/bin/env node
// Validates a Backstage catalog descriptor the way the catalog backend does when it ingests it:
//   1. every YAML document is read; `$text` / `$json` / `$yaml` placeholders are replaced with the
//      referenced file's content (relative paths only, like the catalog's PlaceholderProcessor);
//   2. the entity policies the catalog applies to every entity run in order (schema, default
//      namespace, no foreign root fields, field formats);
//   3. one of the built-in kind validators (Component, API, Resource, System, ...) must accept it;
//   4. relations declared in this file (providesApis, consumesApis, dependsOn) that point at an
//      entity kind defined here must resolve to an entity in the file.
// Usage: node validate.mjs path/to/catalog-info.yaml   (exit 0 = valid, 1 = invalid)

import { readFileSync, existsSync } from "node:fs";
import { dirname, resolve, isAbsolute } from "node:path";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import {
  EntityPolicies,
  SchemaValidEntityPolicy,
  DefaultNamespaceEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  FieldFormatEntityPolicy,
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
  parseEntityRef,
  stringifyEntityRef,
} from "@backstage/catalog-model";

const policy = EntityPolicies.allOf([
  new SchemaValidEntityPolicy(),
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
]);

const kindValidators = [
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
];

// Spec fields holding entity references, with the kind a bare name defaults to.
const relationFields = {
  providesApis: "api",
  consumesApis: "api",
  dependsOn: null, // kind is required in the reference
  dependencyOf: null,
};

function substitutePlaceholders(value, baseDir, where) {
  if (Array.isArray(value)) {
    return value.map((item, i) => substitutePlaceholders(item, baseDir, `${where}[${i}]`));
  }
  if (value === null || typeof value !== "object") {
    return value;
  }
  const keys = Object.keys(value);
  if (keys.length === 1 && ["$text", "$json", "$yaml"].includes(keys[0])) {
    const target = value[keys[0]];
    if (typeof target !== "string" || /^[a-z]+:\/\//i.test(target) || isAbsolute(target)) {
      throw new Error(`${where}: ${keys[0]} must be a relative file path, got ${JSON.stringify(target)}`);
    }
    const file = resolve(baseDir, target);
    if (!existsSync(file)) {
      throw new Error(`${where}: ${keys[0]} refers to ${target}, which does not exist (${file})`);
    }
    const text = readFileSync(file, "utf8");
    if (keys[0] === "$json") return JSON.parse(text);
    if (keys[0] === "$yaml") return parseYaml(text);
    return text;
  }
  return Object.fromEntries(
    keys.map((key) => [key, substitutePlaceholders(value[key], baseDir, `${where}.${key}`)]),
  );
}

async function validateEntity(raw) {
  const entity = await policy.enforce(structuredClone(raw));
  if (!entity) {
    throw new Error("rejected by the entity policies");
  }
  for (const validator of kindValidators) {
    if (await validator.check(entity)) {
      return entity;
    }
  }
  throw new Error(`no built-in kind validator accepts apiVersion ${entity.apiVersion}, kind ${entity.kind}`);
}

function checkApiDefinition(entity) {
  if (entity.kind !== "API" || entity.spec?.type !== "openapi") return;
  const definition = parseYaml(entity.spec.definition);
  if (!definition || typeof definition !== "object" || !String(definition.openapi ?? "").startsWith("3.")) {
    throw new Error("spec.definition is not an OpenAPI 3 document");
  }
  if (!definition.paths || Object.keys(definition.paths).length === 0) {
    throw new Error("spec.definition has no paths");
  }
}

async function main() {
  const path = process.argv[2];
  if (!path) {
    console.error("usage: node validate.mjs <catalog-info.yaml>");
    process.exit(2);
  }
  const file = resolve(path);
  const baseDir = dirname(file);
  const documents = parseAllDocuments(readFileSync(file, "utf8"));
  const failures = [];
  const valid = [];

  for (const [index, document] of documents.entries()) {
    const label = `document ${index + 1}`;
    if (document.errors.length > 0) {
      failures.push(`${label}: YAML error: ${document.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const raw = document.toJS();
    if (raw === null || raw === undefined) continue; // an empty document (e.g. a trailing ---)
    const name = `${label} (${raw?.kind ?? "?"}:${raw?.metadata?.name ?? "?"})`;
    try {
      const entity = await validateEntity(substitutePlaceholders(raw, baseDir, "entity"));
      checkApiDefinition(entity);
      valid.push(entity);
      console.log(`ok   ${stringifyEntityRef(entity)}`);
    } catch (error) {
      failures.push(`${name}: ${error.message}`);
    }
  }

  if (valid.length === 0 && failures.length === 0) {
    failures.push("no entities found");
  }

  // Relations to kinds this file defines must resolve within the file: a typo in providesApis or
  // dependsOn would otherwise leave a dangling edge in the catalog graph.
  const defined = new Set(valid.map((entity) => stringifyEntityRef(entity)));
  const definedKinds = new Set(valid.map((entity) => entity.kind.toLowerCase()));
  for (const entity of valid) {
    for (const [field, defaultKind] of Object.entries(relationFields)) {
      for (const target of entity.spec?.[field] ?? []) {
        let ref;
        try {
          ref = parseEntityRef(target, { defaultKind: defaultKind ?? undefined, defaultNamespace: "default" });
        } catch (error) {
          failures.push(`${stringifyEntityRef(entity)}: spec.${field}: ${error.message}`);
          continue;
        }
        if (definedKinds.has(ref.kind.toLowerCase()) && !defined.has(stringifyEntityRef(ref))) {
          failures.push(`${stringifyEntityRef(entity)}: spec.${field} refers to ${target}, not defined in this file`);
        }
      }
    }
  }

  if (failures.length > 0) {
    for (const failure of failures) console.error(`FAIL ${failure}`);
    console.error(`${path}: ${failures.length} problem(s)`);
    process.exit(1);
  }
  console.log(`${path}: ${valid.length} entities valid`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
