// A simulated Live for running max_for_live/latentbridge.js under node.
//
// It imitates the parts of Max's LiveAPI the device uses: the constructor forms
// `new LiveAPI(path)` and `new LiveAPI(callback, path)` (anything else throws), path
// resolution (aliases such as "live_set view detail_clip", "this_device",
// "... canonical_parent"), get/set/call/getcount, `id`, `type`, `unquotedpath`, and property
// observers (`obj.property = name` observes, `= ""` stops). Clips hold notes in the dictionary
// format of Live 11's get_notes_extended / add_new_notes; Arrangement clips have start_time and
// end_time in song beats. A virtual clock drives Task.
//
// It is as unforgiving as Max: a failed LiveAPI call posts an error to the Max console and
// returns nothing (it does not throw), so the device must look at what Live really did;
// property notifications arrive `notify_delay_ms` after the change (Live -> Max's low-priority
// queue), and while the song plays current_song_time is notified every `song_time_every_ms`,
// late by the same delay; Task.repeat() runs its function at once unless given an initial
// delay (Max's Task.repeat(count, initialdelay)), and `interval` defaults to 500 ms. The true
// song position (what Max's [transport] reports) is `live.beat()` / `live.ticks()`.
// spec.fail = {create_clip: "message", add_new_notes: "message"} makes that call fail as
// Live does: an error on the console, nothing changed.
//
//   const {FakeLive} = require("./fake_live.js");
//   const live = new FakeLive({tracks: [{clips: {0: {length: 8, notes: [...]}},
//                                        arrangement: [{start_time: 16, length: 8, notes: [...]}]}]});
//   const device = createDevice({LiveAPI: live.LiveAPI, Task: live.Task, now: () => live.time, ...});
//   live.setSong("is_playing", 1);   // fires the observers
//   live.advance(100);               // runs due Tasks

"use strict";

class FakeLive {
  constructor(spec) {
    this.time = 0;
    this.calls = [];       // every call() and set(): {path, fn, args}
    this.tasks = [];
    this.observers = [];
    this.nextId = 1;
    this.objects = new Map();   // canonical path -> {id, type, props, children}
    this.aliases = {};
    this.song = Object.assign({is_playing: 0, current_song_time: 0, tempo: 120,
                               signature_numerator: 4, signature_denominator: 4},
                              spec.song || {});
    this.posts = [];       // what Max's console shows (LiveAPI errors)
    this.events = [];      // pending notifications: {at, fn}
    this.fail = spec.fail || {};
    this.notifyDelayMs = spec.notify_delay_ms === undefined ? 10 : spec.notify_delay_ms;
    this.songTimeEveryMs = spec.song_time_every_ms === undefined ? 50 : spec.song_time_every_ms;
    this.anchor = {beat: this.song.current_song_time, at: 0};
    this.nextSongTime = null;
    this._add("live_set", "Song", this.song);
    (spec.tracks || []).forEach((t, ti) => {
      const path = `live_set tracks ${ti}`;
      const slots = t.slots || 8;
      this._add(path, "Track", {name: t.name || `${ti + 1}-MIDI`, has_midi_input: t.midi === false ? 0 : 1,
                                playing_slot_index: t.playing === undefined ? -1 : t.playing},
                {clip_slots: slots, arrangement_clips: (t.arrangement || []).length});
      for (let s = 0; s < slots; s++) {
        this._add(`${path} clip_slots ${s}`, "ClipSlot", {has_clip: 0});
      }
      Object.entries(t.clips || {}).forEach(([s, clip]) => this._addClip(`${path} clip_slots ${s}`, clip));
      (t.arrangement || []).forEach((clip, ci) => {
        const props = Object.assign(this._clipProps(clip, 1), {start_time: clip.start_time || 0});
        // Clip.end_time of an Arrangement clip: its right edge in the song (LOM reference).
        props.end_time = clip.end_time === undefined ? props.start_time + clip.length : clip.end_time;
        this._add(`${path} arrangement_clips ${ci}`, "Clip", props, {}, clip.notes);
      });
      if (t.device) this.aliases["this_device"] = `${path} devices 0`;
      this._add(`${path} devices 0`, "Device", {name: "latentbridge"});
    });
    if (spec.chain) {
      // The device inside a rack: track -> devices 0 (rack) -> chains 0 -> devices 0 (us).
      const rack = `live_set tracks ${spec.chain} devices 0`;
      this._add(`${rack} chains 0`, "Chain", {name: "chain"});
      this._add(`${rack} chains 0 devices 0`, "Device", {name: "latentbridge"});
      this.aliases["this_device"] = `${rack} chains 0 devices 0`;
    }
    if (spec.detail_clip) this.aliases["live_set view detail_clip"] = spec.detail_clip;
    if (spec.highlighted_clip_slot) this.aliases["live_set view highlighted_clip_slot"] = spec.highlighted_clip_slot;
    const live = this;
    // Max's constructor: new LiveAPI([callback], [path]). A first argument that is not a
    // function is the path; a second argument then has no meaning (e.g. LiveAPI(null, path)).
    this.constructed = [];
    this.LiveAPI = function (first, path) {
      if (typeof first === "function") {
        live.constructed.push("callback, path");
        return new FakeLiveAPI(live, first, path);
      }
      if (arguments.length > 1) {
        throw new Error(`LiveAPI(${JSON.stringify(first)}, ${JSON.stringify(path)}): the callback must ` +
                        "be a function; without one, call new LiveAPI(path)");
      }
      live.constructed.push("path");
      return new FakeLiveAPI(live, null, first);
    };
    this.Task = function (fn) { return new FakeTask(live, fn); };
  }

  _add(path, type, props, counts, notes) {
    const obj = {id: this.nextId++, type, props, counts: counts || {}, notes: notes || null};
    this.objects.set(path, obj);
    return obj;
  }

  _clipProps(clip, arrangement) {
    return {name: clip.name || "", length: clip.length, is_midi_clip: clip.audio ? 0 : 1,
            looping: clip.loop_start === undefined ? 0 : 1, loop_start: clip.loop_start || 0,
            start_marker: clip.start_marker || 0,
            is_arrangement_clip: arrangement};
  }

  _addClip(slotPath, clip) {
    this.objects.get(slotPath).props.has_clip = 1;
    return this._add(`${slotPath} clip`, "Clip", this._clipProps(clip, 0), {},
                     (clip.notes || []).map((n, i) => Object.assign({note_id: i + 1}, n)));
  }

  resolve(path) {
    path = String(path).replace(/"/g, "").trim().replace(/\s+/g, " ");
    for (const alias of Object.keys(this.aliases).sort((a, b) => b.length - a.length)) {
      if (path === alias || path.startsWith(alias + " ")) {
        path = this.aliases[alias] + path.slice(alias.length);
      }
    }
    while (path.endsWith(" canonical_parent")) {
      const tokens = path.slice(0, -" canonical_parent".length).split(" ");
      path = tokens.slice(0, tokens.length - 2).join(" ");
    }
    return path;
  }

  // The true song position in beats / Max transport ticks (480 a beat) now.
  beat() {
    if (!this.song.is_playing) return this.anchor.beat;
    return this.anchor.beat + (this.time - this.anchor.at) * this.song.tempo / 60000;
  }

  ticks() { return this.beat() * 480; }

  setSong(prop, value) {
    const beat = this.beat();
    this.song[prop] = value;
    if (prop === "current_song_time") this.anchor = {beat: value, at: this.time};
    else this.anchor = {beat, at: this.time};        // start, stop, tempo: from where it is
    if (prop === "is_playing") this.nextSongTime = value ? this.time + this.songTimeEveryMs : null;
    this._notify(prop, value);
  }

  _notify(prop, value) {
    const fire = () => {
      for (const o of this.observers.slice()) {
        if (o.property === prop && o.callback) o.callback([prop, value]);
      }
    };
    this.events.push({at: this.time + this.notifyDelayMs, fn: fire});
  }

  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      const due = this.tasks.filter(t => t.dueAt !== null && t.dueAt <= end)
                            .sort((a, b) => a.dueAt - b.dueAt)[0];
      const event = this.events.filter(e => e.at <= end).sort((a, b) => a.at - b.at)[0];
      const songTime = this.songTimeEveryMs > 0 && this.nextSongTime !== null && this.nextSongTime <= end
        ? this.nextSongTime : null;
      const times = [due ? due.dueAt : Infinity, event ? event.at : Infinity,
                     songTime === null ? Infinity : songTime];
      const at = Math.min(...times);
      if (at === Infinity) break;
      this.time = at;
      if (event && event.at === at) {
        this.events.splice(this.events.indexOf(event), 1);
        event.fn();
      } else if (songTime === at) {
        this.nextSongTime += this.songTimeEveryMs;
        this.song.current_song_time = this.beat();
        this._notify("current_song_time", this.song.current_song_time);
      } else {
        due.runs += 1;
        const more = due.repeating && (due.count < 0 || due.runs < due.count);
        due.dueAt = more ? due.dueAt + due.interval : null;
        due.fn();
      }
    }
    this.time = end;
  }

  post(text) { this.posts.push(text); }

  clipAt(path) {
    const obj = this.objects.get(this.resolve(path));
    return obj && obj.type === "Clip" ? obj : null;
  }
}

class FakeLiveAPI {
  constructor(live, callback, path) {
    this.live = live;
    this.callback = callback;
    this.unquotedpath = live.resolve(path);
    this.path = `"${this.unquotedpath}"`;
    const obj = live.objects.get(this.unquotedpath);
    this.obj = obj || null;
    this.id = obj ? obj.id : 0;
    this.type = obj ? obj.type : undefined;
    this._property = "";
  }

  get property() { return this._property; }

  // Observing a property reports its value once at once, then on every change; setting a new
  // name replaces the old observation and "" ends it.
  set property(name) {
    this._property = name;
    this.live.observers = this.live.observers.filter(o => o !== this);
    if (!name) return;
    this.live.observers.push(this);
    if (this.callback && this.obj) this.callback([name, this.obj.props[name]]);
  }

  get(prop) {
    if (!this.obj) {
      this.live.post(`jsliveapi: get ${prop}: no valid object set`);
      return undefined;
    }
    return [this.obj.props[prop]];
  }

  set(prop, value) {
    this.live.calls.push({path: this.unquotedpath, fn: "set", args: [prop, value]});
    if (this.obj) this.obj.props[prop] = value;
  }

  getcount(child) {
    return this.obj ? this.obj.counts[child] || 0 : 0;
  }

  call(fn, ...args) {
    this.live.calls.push({path: this.unquotedpath, fn, args: JSON.parse(JSON.stringify(args))});
    // Max posts what Live refuses and returns nothing; the script goes on.
    const refuse = (why) => { this.live.post(`jsliveapi: ${fn}: ${why}`); return undefined; };
    if (!this.obj) return refuse(`no valid object set (${this.unquotedpath})`);
    if (this.live.fail[fn]) return refuse(this.live.fail[fn]);
    if (fn === "get_notes_extended") {
      const [fromPitch, pitchSpan, fromTime, timeSpan] = args;
      const notes = this.obj.notes.filter(n => n.pitch >= fromPitch && n.pitch < fromPitch + pitchSpan &&
                                               n.start_time >= fromTime && n.start_time < fromTime + timeSpan);
      return JSON.stringify({notes});   // Live hands JS the dictionary as a JSON string
    }
    if (fn === "create_clip") {
      if (this.obj.type !== "ClipSlot" || this.obj.props.has_clip) return refuse("slot is not empty");
      this.live._addClip(this.unquotedpath, {length: args[0], notes: []});
      return undefined;
    }
    if (fn === "add_new_notes") {
      const spec = args[0];
      if (!spec || !Array.isArray(spec.notes)) return refuse("needs a dictionary {notes: [...]}");
      for (const n of spec.notes) {      // Live checks every note before it adds any
        for (const key of ["pitch", "start_time", "duration"]) {
          if (typeof n[key] !== "number") return refuse(`note without ${key}`);
        }
        if (n.pitch < 0 || n.pitch > 127 || n.duration <= 0) return refuse(`invalid note ${JSON.stringify(n)}`);
      }
      for (const n of spec.notes) this.obj.notes.push(Object.assign({note_id: this.obj.notes.length + 1}, n));
      return undefined;
    }
    return refuse(`unknown function ${fn}`);
  }
}

class FakeTask {
  constructor(live, fn) {
    this.live = live;
    this.fn = fn;
    this.interval = 500;        // Max's default
    this.dueAt = null;
    this.repeating = false;
    this.count = -1;
    this.runs = 0;
    live.tasks.push(this);
  }
  schedule(ms) { this.repeating = false; this.runs = 0; this.dueAt = this.live.time + (ms || 0); }
  // Max: repeat(count = forever, initialdelay = 0): the first run comes at once by default.
  repeat(count, initialdelay) {
    this.repeating = true;
    this.runs = 0;
    this.count = count === undefined || count < 0 ? -1 : count;
    this.dueAt = this.live.time + (initialdelay || 0);
  }
  cancel() { this.dueAt = null; }
}

module.exports = {FakeLive};
