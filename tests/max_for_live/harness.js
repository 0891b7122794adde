// Runs max_for_live/latentbridge.js against FakeLive through a scenario, for the pytest tests.
//
//   node harness.js scenario.json   -> prints {"outlets": [...], "calls": [...], "clips": {...}}
//
// scenario.json: {"live": <FakeLive spec>, "config": {...}, "clips_out": [paths to dump],
//                 "devices": n (default 1, all in the same Live set and Max),
//                 "steps": [{"init": true} | {"free": true} | {"handle": name, "args": [...]} |
//                           {"advance": ms} | {"song": prop, "value": v}]}
// A step may name "device": k (default 0). Each outlet record has the time, the device and the
// true transport position in ticks at that moment (what [transport] would report).
// The output also lists the properties still observed, the pending tasks' due times and the
// Max console (posts: the device's own, live_posts: LiveAPI errors).
"use strict";

const fs = require("fs");
const path = require("path");
const {FakeLive} = require("./fake_live.js");
const {createDevice} = require(path.join(__dirname, "..", "..", "max_for_live", "latentbridge.js"));

const scenario = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const live = new FakeLive(scenario.live || {});
const outlets = [];
const posts = [];
const ports = {};      // the Max Global the devices share
const devices = [];
for (let d = 0; d < (scenario.devices || 1); d++) {
  devices.push(createDevice({
    outlet: (index, message) => outlets.push({t: live.time, device: d, ticks: live.ticks(), outlet: index,
                                              message: message.slice()}),
    post: (text) => posts.push(text),
    LiveAPI: live.LiveAPI,
    Task: live.Task,
    now: () => live.time,
    ports,
    config: scenario.config || {},
  }));
}

for (const step of scenario.steps || []) {
  const device = devices[step.device || 0];
  if (step.init) device.init();
  else if (step.free) device.free();
  else if (step.handle !== undefined) device.handle(step.handle, step.args || []);
  else if (step.advance !== undefined) live.advance(step.advance);
  else if (step.song !== undefined) live.setSong(step.song, step.value);
  else throw new Error(`unknown step ${JSON.stringify(step)}`);
}

const clips = {};
for (const p of scenario.clips_out || []) {
  const clip = live.clipAt(p);
  clips[p] = clip ? {props: clip.props, notes: clip.notes} : null;
}
const observed = live.observers.map(o => o.property);
const pending = live.tasks.filter(t => t.dueAt !== null).map(t => t.dueAt);
process.stdout.write(JSON.stringify({outlets, calls: live.calls, clips, posts, observed, pending,
                                     constructed: live.constructed, live_posts: live.posts, ports}));
