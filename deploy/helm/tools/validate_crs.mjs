// Validates the chart's custom resources against their operators' schemas, as packaged on npm by
// kubernetes-models (pinned in package.json / package-lock.json, installed by
// scripts/install_deploy_tools.sh into ~/.cache/timbre/tools/npm):
//   keda.sh                  @kubernetes-models/keda                    (KEDA's Go API types)
//   monitoring.coreos.com    @kubernetes-models/prometheus-operator     (Prometheus Operator's Go API types)
//   kafka.strimzi.io         @kubernetes-models/strimzi-kafka-operator  (Strimzi 0.49.0 + 1.0.0 CRDs)
//   postgresql.cnpg.io       @kubernetes-models/cloudnative-pg          (CloudNativePG's Go API types)
// These packages ship no JSON Schema documents: each schema is compiled ahead of time into an Ajv
// validator (_schemas/*.js), reached through the model class's validate(). It checks types, enums,
// formats and required fields; like the CRDs' own openAPIV3Schema it does not reject unknown fields
// (the chart's tests assert the fields that matter).
//
//   usage: node validate_crs.mjs <node_modules dir> < objects.json   (a JSON array of objects)
// Prints one line per object; exits 1 if any object fails or has no schema here.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const PACKAGES = {
  "keda.sh": "@kubernetes-models/keda",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "kafka.strimzi.io": "@kubernetes-models/strimzi-kafka-operator",
  "postgresql.cnpg.io": "@kubernetes-models/cloudnative-pg",
};

const modules = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));
let failures = 0;
for (const obj of objects) {
  const [group, version] = obj.apiVersion.split("/");
  const name = `${obj.kind}/${obj.metadata?.name}`;
  const pkg = PACKAGES[group];
  if (!pkg) {
    console.log(`ERROR ${name}: no schema package for API group ${group}`);
    failures++;
    continue;
  }
  const file = path.join(modules, pkg, group, version, `${obj.kind}.js`);
  let Model;
  try {
    Model = (await import(pathToFileURL(file).href))[obj.kind];
  } catch (error) {
    console.log(`ERROR ${name}: ${obj.apiVersion} ${obj.kind} is not in ${pkg} (${error.code ?? error.message})`);
    failures++;
    continue;
  }
  try {
    new Model(obj).validate();
    console.log(`ok    ${name} (${obj.apiVersion}, ${pkg})`);
  } catch (error) {
    console.log(`ERROR ${name} (${obj.apiVersion}): ${error.message}`);
    failures++;
  }
}
process.exit(failures ? 1 : 0);
