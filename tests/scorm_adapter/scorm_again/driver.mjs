// Drives the real scorm-again runtime in Node against a commit URL, for the SCORM endpoint tests.
//
// Usage: node driver.mjs <scorm-again install prefix> <scenario.json>
// Scenario: {"version": "1.2" | "2004", "settings": {...scorm-again settings},
//            "startingData": {...the open-attempt answer's startingData},
//            "steps": [["LMSInitialize", ""], ["LMSSetValue", "cmi.core.score.raw", "80"], ...]}
// Prints one JSON line: {"results": [[step, ...args, returned, lastError], ...],
//                        "sent": {"xhr": n, "fetch": n, "beacon": n}}.
//
// scorm-again is a browser library; the shims below are the minimum it uses (read from its
// dist/esm source): a synchronous XMLHttpRequest for its synchronous commits (done on a worker
// thread with Atomics.wait, since Node has no synchronous HTTP), and navigator.sendBeacon for
// the terminate commit (a fetch, awaited before the script ends). Node 20 has fetch and Blob.
import { Worker } from "node:worker_threads";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [prefix, scenarioPath] = process.argv.slice(2);
const scenario = JSON.parse(readFileSync(scenarioPath, "utf8"));
const inFlight = new Set();
const sent = { xhr: 0, fetch: 0, beacon: 0 }; // how the runtime's commits left

function track(promise) {
  inFlight.add(promise);
  promise.finally(() => inFlight.delete(promise)).catch(() => {});
  return promise;
}

const realFetch = globalThis.fetch;
globalThis.fetch = (url, init = {}) => {
  const { mode, keepalive, credentials, ...rest } = init; // browser-only options
  sent.fetch += 1;
  return track(realFetch(url, rest));
};

globalThis.navigator = {
  sendBeacon(url, data) {
    const type = data && data.type ? data.type : "text/plain;charset=UTF-8";
    sent.beacon += 1;
    track(realFetch(url, { method: "POST", body: data, headers: { "Content-Type": type } }));
    return true;
  },
};

const WORKER = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", async ({ url, method, headers, body, shared }) => {
  const flag = new Int32Array(shared, 0, 2);
  const bytes = new Uint8Array(shared, 8);
  let out;
  try {
    const response = await fetch(url, { method, headers, body });
    out = { status: response.status, text: await response.text() };
  } catch (error) {
    out = { status: 0, text: String(error) };
  }
  const encoded = new TextEncoder().encode(JSON.stringify(out));
  bytes.set(encoded.subarray(0, bytes.length));
  flag[1] = Math.min(encoded.length, bytes.length);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;
const worker = new Worker(WORKER, { eval: true });
worker.unref();

class SyncXMLHttpRequest {
  constructor() {
    this.headers = {};
    this.status = 0;
    this.responseText = "";
  }
  open(method, url, async) {
    if (async !== false) throw new Error("only synchronous requests are shimmed");
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name, value) {
    this.headers[name] = value;
  }
  send(body) {
    sent.xhr += 1;
    const shared = new SharedArrayBuffer(8 + (1 << 20));
    const flag = new Int32Array(shared, 0, 2);
    worker.postMessage({ url: this.url, method: this.method, headers: this.headers, body, shared });
    Atomics.wait(flag, 0, 0, 30000);
    if (Atomics.load(flag, 0) !== 1) throw new Error("synchronous request timed out");
    const out = JSON.parse(new TextDecoder().decode(new Uint8Array(shared, 8, flag[1]).slice()));
    if (out.status === 0) throw new Error(out.text);
    this.status = out.status;
    this.responseText = out.text;
  }
}
globalThis.XMLHttpRequest = SyncXMLHttpRequest;

const file = scenario.version === "1.2" ? "scorm12.js" : "scorm2004.js";
const module = await import(pathToFileURL(join(prefix, "node_modules/scorm-again/dist/esm", file)));
const Api = scenario.version === "1.2" ? module.Scorm12API : module.Scorm2004API;
const api = new Api({ logLevel: 5, ...scenario.settings });
if (scenario.startingData) api.loadFromJSON(scenario.startingData);

const lastError = scenario.version === "1.2" ? "LMSGetLastError" : "GetLastError";
const results = [];
for (const [name, ...args] of scenario.steps) {
  const returned = api[name](...args);
  results.push([name, ...args, returned, api[lastError]()]);
}
while (inFlight.size) await Promise.allSettled([...inFlight]);
process.stdout.write(JSON.stringify({ results, sent }) + "\n");
process.exit(0);
