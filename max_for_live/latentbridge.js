// latentbridge.js: the [js] brain of the latentbridge Max for Live device.
//
// It reads and writes Live clips through the Live Object Model (LiveAPI), reports Live's
// transport, plays the bars the bridge streams, and forwards every control to the bridge over
// OSC (docs/osc.md). No musical logic lives here: the bridge does the music.
//
// In Max the patch loads it as [js latentbridge.js] (1 inlet, 3 outlets):
//   inlet 0   OSC replies from [udpreceive] ("/lb/pong", "/lb/bar 3 12. 60 0. 0.5 100" ...),
//             control messages from the UI ("capture A", "temperature 0.7", "write 1" ...) and
//             stored values restored with the set ("saved_model mel_2bar", "drum 0 36")
//   outlet 0  OSC messages to [udpsend 127.0.0.1 9000] ("/lb/clip/notes A 60 0. 1. 100 ...")
//   outlet 1  notes to play: "note pitch velocity duration_ms at_ticks" (the song position of
//             the note in ticks, 480 a beat); the patch subtracts [transport]'s position and
//             holds the note in [pipe] for the rest, on Max's scheduler thread, in ticks.
//             "clear" drops what is queued and ends sounding notes, "flush" only drops the queue.
//   outlet 2  feedback for the UI: "status <text>", "connected 0|1", "models <name>..." (the
//             Model menu's items), "model <index>" (the menu item to show, without output),
//             "port <n>" (the port [udpreceive] must listen on), "savemodel <name>" (the
//             model picked, stored with the Live set), "modes <name>..." (the Mode menu's
//             items: the tools the bridge offers for the loaded model), "tool <index>" (the
//             Mode item to show, without output), "active <control> 0|1" (a control the chosen
//             tool uses or not), "savemode <name>" (the tool picked, stored with the set) and
//             "answer <index>" (the Answer item to show, without output: follow mode's answer
//             fell back to one the new model offers)
//
// Everything Max provides (outlet, post, LiveAPI, Task) is injected, so the same file runs
// under node against a simulated Live:
//
//   var lb = require("./latentbridge.js");
//   var device = lb.createDevice({outlet: function (i, msg) {...}, post: console.log,
//                                 LiveAPI: FakeLiveAPI, Task: FakeTask, now: clock});
//   device.init();                       // what [live.thisdevice] triggers
//   device.handle("capture", ["A"]);     // what the "Capture A" button sends
//   device.handle("/lb/pong", []);       // what [udpreceive] delivers
//
// Written in ES5 (Max's [js] engine): var, function, no arrows, no template strings.

var DEFAULTS = {
    replyPort: 9001,           // first [udpreceive] port tried; each device takes a free one
    portRange: 100,            // ... from replyPort to replyPort + portRange - 1
    portTries: 3,              // failed hellos on a port never heard from before taking another
    chunkNotes: 100,           // notes per /lb/clip/notes datagram (docs/osc.md: 100 is safe)
    pingTimeoutMs: 1000,       // no /lb/pong within this -> "bridge not running"
    pingEveryMs: 3000,         // keep-alive while connected, retry (hello + ping) while not
    tickMs: 20,                // playhead poll for streamed bars
    lookaheadBeats: 1,         // notes starting within this many beats go to [pipe] now
    ticksPerBeat: 480,         // Max's transport resolution (ticks per quarter note)
    lateMs: 30,                // a note this late (e.g. on the first beat after play) plays at once;
                               // later ones are dropped, not played out of time
    resyncBeats: 0.05,         // a reported song time this far from the running estimate re-anchors it
    transportEveryMs: 100,     // /lb/transport while playing (docs/osc.md: >= 4 per second)
    startHint: "bridge not running: start `python -m bridge`"
};

// The Mode menu lists what the bridge offers (/lb/modes: the tools of the loaded model), never
// a fixed list; before the bridge has answered it holds "sample", which every model offers.
var FIRST_MODES = ["sample"];
// The controls that belong to one tool and are dimmed for the others, and which tool uses which,
// as in Magenta Studio (each tool shows its own inputs): temperature, seed, stream and write
// serve every tool. A tool the bridge offers that is not listed here leaves them all active.
// Follow mode (docs/osc.md, Follow mode) answers what is played into the bridge: its phrase
// length, its answer, and the amount when it answers with a variation.
var TOOL_SPECIFIC = ["capture_a", "capture_b", "position", "amount", "continue_bars",
                     "follow_bars", "answer"];
var TOOL_CONTROLS = {
    sample: [],
    interpolate: ["capture_a", "capture_b", "position"],
    vary: ["capture_a", "amount"],
    "continue": ["capture_a", "continue_bars"],
    groove: ["capture_a"],
    drumify: ["capture_a"],
    follow: ["follow_bars", "answer", "amount"]
};
// The temperature each tool starts at: runtime/defaults.py's TOOL_DEFAULTS (a test checks they
// agree); follow mode plays at its answer's. The Temperature dial follows the tool while it
// holds the previous tool's default; moved anywhere else it stays (docs/osc.md, Defaults).
var TOOL_TEMPERATURE = {sample: 1.0, interpolate: 0.5, vary: 0.5, "continue": 0.5, groove: 0.5,
                        drumify: 0.5};

// The Answer menu's items (fixed, saved with the set by index): what follow mode may answer
// with, in the bridge's order; a model offers those of them that /lb/modes lists.
var FOLLOW_ANSWERS = ["vary", "continue", "groove", "drumify"];
var SLOTS = ["A", "B"];

// The 9 drum classes of the drum models, with the General MIDI pitches each stands for (the
// first is what the bridge writes). Same table as runtime/codecs/drums.py (Magenta's).
var DRUM_CLASSES = ["kick", "snare", "closed hi-hat", "open hi-hat", "low tom", "mid tom",
                    "high tom", "crash", "ride"];
var DRUM_PITCHES = [
    [36, 35], [38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85],
    [42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22], [46, 67, 72, 74, 79, 81, 26],
    [45, 29, 41, 43, 61, 64, 84], [48, 47, 60, 63, 77, 86, 87], [50, 30, 62, 76, 83],
    [49, 52, 55, 57, 58], [51, 53, 59, 82]
];

function createDevice(env) {
    var cfg = {};
    var key;
    for (key in DEFAULTS) cfg[key] = DEFAULTS[key];
    if (env.config) for (key in env.config) cfg[key] = env.config[key];

    var now = env.now || function () { return new Date().getTime(); };
    var post = env.post || function () {};
    // Ports taken by the latentbridge devices of this Max (a Max Global in the device): each
    // device takes its own, so several devices in a set each hear their own replies.
    var ports = env.ports || {};

    var state = {
        connected: false,
        shownConnected: null,   // what the LED shows (null: nothing sent yet)
        statusText: null,       // what the status line shows
        waitingPong: false,
        pingSentAt: 0,
        lastPongAt: -1,
        models: [],
        modes: FIRST_MODES.slice(),   // the tools the bridge offers for its model (/lb/modes)
        model: "",              // the model the bridge reports loaded
        chosenModel: "",        // the model picked in the Model menu, loaded again on reconnect
        loadingModel: "",       // asked for with /lb/model, no /lb/model/loaded yet
        syncModel: false,       // after a (re)connect: compare chosenModel with the bridge's
        writeOnResult: false,
        result: null,           // {id, length, count, notes} while a /lb/result arrives
        lastResult: null,
        bars: {},               // bar_index -> {start, notes (each with beat, played), closed}
        transport: {playing: 0, beat: 0, tempo: 120, numerator: 4, denominator: 4,
                    beatAt: 0, sentAt: -1e9},
        observers: [],
        tasks: {},
        settings: {},           // last value of each setting, resent when the bridge appears
        replyPort: 0,           // the port this device's [udpreceive] listens on
        portHeard: false,       // something arrived on replyPort: it works
        portFails: 0,           // hellos on replyPort without an answer
        drumMap: [],            // pad note of each drum class (stored with the set)
        lateNotes: 0,           // streamed notes that came after their beat (dropped)
        ready: false            // observers report their first values during init: stay quiet
    };

    // --- small helpers -----------------------------------------------------------------------

    function send(address, args) {
        env.outlet(0, [address].concat(args || []));
    }

    function ui(name, args) {
        env.outlet(2, [name].concat(args || []));
    }

    function status(text) {
        state.statusText = text;
        ui("status", [text]);
        post("latentbridge: " + text + "\n");
    }

    function showConnected(on) {
        state.connected = on;
        if (state.shownConnected === on) return;
        state.shownConnected = on;
        ui("connected", [on ? 1 : 0]);
    }

    function first(value) {
        // LiveAPI.get returns an array; a bare value in some paths.
        return (value && typeof value === "object" && "length" in value) ? value[0] : value;
    }

    // Max's constructor is LiveAPI([callback], [path]): without a callback, pass the path alone.
    function api(path, callback) {
        return callback ? new env.LiveAPI(callback, path) : new env.LiveAPI(path);
    }

    function exists(obj) {
        return obj && String(obj.id) !== "0";
    }

    function task(name, fn, intervalMs, repeat) {
        var existing = state.tasks[name];
        if (existing) existing.cancel();
        var t = new env.Task(fn);
        t.interval = intervalMs;
        state.tasks[name] = t;
        // Max runs a repeating Task at once unless told the first delay.
        if (repeat) t.repeat(-1, intervalMs); else t.schedule(intervalMs);
        return t;
    }

    // --- connection -------------------------------------------------------------------------

    // The lowest port from cfg.replyPort no other latentbridge device of this Max holds (and
    // not one given up because nothing ever came back on it).
    function claimPort(skip) {
        if (state.replyPort) delete ports[state.replyPort];
        var start = skip ? state.replyPort + 1 : cfg.replyPort;
        for (var k = 0; k < cfg.portRange; k++) {
            var port = cfg.replyPort + (start - cfg.replyPort + k) % cfg.portRange;
            if (!ports[port]) {
                ports[port] = true;
                state.replyPort = port;
                state.portHeard = false;
                state.portFails = 0;
                ui("port", [port]);
                return port;
            }
        }
        state.replyPort = 0;
        status("no free reply port from " + cfg.replyPort + " to " + (cfg.replyPort + cfg.portRange - 1));
        return 0;
    }

    function connect() {
        if (!state.replyPort) claimPort(false);
        send("/lb/hello", [state.replyPort]);
        ping();
        send("/lb/models");
        send("/lb/modes");
        send("/lb/status");
    }

    function ping() {
        state.waitingPong = true;
        state.pingSentAt = now();
        send("/lb/ping");
        task("pingTimeout", checkPong, cfg.pingTimeoutMs, false);
    }

    // No pong in time: the bridge is gone (or never came). The keep-alive task keeps retrying
    // every pingEveryMs; the hint stays on the status line (posted once, not every retry).
    function checkPong() {
        if (!state.waitingPong) return;
        state.waitingPong = false;
        showConnected(false);
        if (state.statusText !== cfg.startHint) status(cfg.startHint);
    }

    function keepAlive() {
        if (state.connected) return ping();
        // Nothing ever came back on this port: another program may hold it. Take the next.
        if (!state.portHeard && ++state.portFails >= cfg.portTries) claimPort(true);
        connect();            // a restarted bridge needs the hello again to find our port
    }

    // A pong, or the /lb/hello reply (which names the bridge's model). On (re)connect the
    // settings go to the bridge again, and the chosen model if the bridge has another one: the
    // hello reply says which it has; after a bare pong the /lb/status reply does.
    function onPong(model) {
        var wasConnected = state.connected;
        state.waitingPong = false;
        state.lastPongAt = now();
        if (model !== undefined) state.model = String(model);
        if (wasConnected) return;
        showConnected(true);
        status("connected to the bridge");
        state.syncModel = true;
        if (model !== undefined) onBridgeModel(model);
        else send("/lb/status");
        resendSettings();
    }

    function onBridgeModel(name) {
        state.model = String(name);
        if (!state.syncModel) return;
        state.syncModel = false;
        if (state.chosenModel && state.chosenModel !== state.model &&
            state.chosenModel !== state.loadingModel) {
            loadModel(state.chosenModel);
        }
    }

    function loadModel(name) {
        state.loadingModel = name;
        status("loading " + name + " ...");
        send("/lb/model", [name]);
    }

    function showModelInMenu() {
        var index = state.models.indexOf(state.model);
        if (index >= 0) ui("model", [index]);
    }

    // --- tools: the Mode menu and the controls each tool uses -------------------------------

    // Show the chosen tool in the menu (without output) and dim the controls it does not use.
    function showTool() {
        var mode = state.settings.mode === undefined ? state.modes[0] : state.settings.mode;
        var index = state.modes.indexOf(mode);
        if (index >= 0) ui("tool", [index]);
        var uses = TOOL_CONTROLS[mode];
        for (var i = 0; i < TOOL_SPECIFIC.length; i++) {
            var name = TOOL_SPECIFIC[i];
            var on = uses === undefined || uses.indexOf(name) >= 0;
            if (mode === "follow" && name === "amount") on = currentAnswer() === "vary";
            ui("active", [name, on ? 1 : 0]);
        }
    }

    // Follow mode's answer: the one picked (by name), else vary, the bridge's default.
    function currentAnswer() {
        return state.settings.answer === undefined ? FOLLOW_ANSWERS[0] : state.settings.answer;
    }

    // A pick in the Answer menu (an index into FOLLOW_ANSWERS) or a name (resent).
    function chooseAnswer(value) {
        var answer = typeof value === "number" ? FOLLOW_ANSWERS[Math.round(value)] : String(value);
        if (FOLLOW_ANSWERS.indexOf(answer) < 0) {
            return status("no answer " + value + " (one of " + FOLLOW_ANSWERS.join(", ") + ")");
        }
        var before = toolNow();
        state.settings.answer = answer;
        var temperature = followTemperature(before);
        showTool();
        send("/lb/follow/answer", [answer]);
        if (temperature !== null) send("/lb/temperature", [temperature]);
    }

    // The tool playing now: {mode, answer} (before the bridge answered: sample).
    function toolNow() {
        return {mode: state.settings.mode === undefined ? FIRST_MODES[0] : state.settings.mode,
                answer: currentAnswer()};
    }

    function toolTemperature(tool) {
        var t = TOOL_TEMPERATURE[tool.mode === "follow" ? tool.answer : tool.mode];
        return t === undefined ? null : t;
    }

    // After a change of tool from `before`: if the Temperature dial still holds that tool's
    // default, it moves to the new tool's (shown without output); returns the value to send
    // the bridge, or null (dial moved by hand, never set, or the same default).
    function followTemperature(before) {
        var value = state.settings.temperature;
        var from = toolTemperature(before), to = toolTemperature(toolNow());
        if (value === undefined || from === null || to === null || to === from) return null;
        if (Math.abs(Number(value) - from) > 1e-6) return null;
        state.settings.temperature = to;
        ui("temperature", [to]);
        return to;
    }

    // The answers the loaded model offers: those of FOLLOW_ANSWERS that /lb/modes lists.
    function offeredAnswers() {
        var offered = [];
        for (var i = 0; i < FOLLOW_ANSWERS.length; i++) {
            if (state.modes.indexOf(FOLLOW_ANSWERS[i]) >= 0) offered.push(FOLLOW_ANSWERS[i]);
        }
        return offered;
    }

    // A pick in the menu (an index into what the bridge offers) or a name (restored, resent).
    function chooseMode(value) {
        var mode = typeof value === "number" ? state.modes[Math.round(value)] : String(value);
        if (mode === undefined || mode === "") {
            return status("no mode " + value + " (the bridge offers " + state.modes.join(", ") + ")");
        }
        var before = toolNow();
        state.settings.mode = mode;
        ui("savemode", [mode]);                  // stored with the Live set ([pattr])
        var temperature = followTemperature(before);
        showTool();
        send("/lb/mode", [mode]);
        if (temperature !== null) send("/lb/temperature", [temperature]);
    }

    // /lb/modes: the loaded model's tools. A chosen tool the model does not offer falls back
    // to the first one (the bridge has done the same: docs/osc.md, Models).
    function onModes(names) {
        state.modes = names.length ? names.map(String) : FIRST_MODES.slice();
        ui("modes", state.modes);
        var mode = state.settings.mode;
        if (mode !== undefined && state.modes.indexOf(mode) < 0) {
            var before = toolNow();
            state.settings.mode = state.modes[0];
            status((state.model || "the model") + " does not offer " + mode + ": mode " + state.modes[0]);
            var temperature = followTemperature(before);
            send("/lb/mode", [state.modes[0]]);
            if (temperature !== null) send("/lb/temperature", [temperature]);
        }
        // The answer picked for follow mode, if this model cannot give it: its first answer,
        // shown in the menu without output (the bridge has done the same: docs/osc.md, Models).
        var offered = offeredAnswers();
        var answer = state.settings.answer;
        if (answer !== undefined && offered.length && offered.indexOf(answer) < 0) {
            state.settings.answer = offered[0];
            ui("answer", [FOLLOW_ANSWERS.indexOf(offered[0])]);
            status((state.model || "the model") + " cannot answer with " + answer + ": answer " + offered[0]);
            send("/lb/follow/answer", [offered[0]]);
        }
        showTool();
    }

    // --- drum map: pads of a rack that are not on General MIDI notes ------------------------

    function drumMapped() {
        for (var k = 0; k < DRUM_PITCHES.length; k++) {
            if (state.drumMap[k] !== undefined && state.drumMap[k] !== DRUM_PITCHES[k][0]) return true;
        }
        return false;
    }

    // Live -> bridge: a note on a class's pad becomes that class's General MIDI note.
    function toBridgePitch(pitch) {
        if (!drumMapped()) return pitch;
        for (var k = 0; k < DRUM_PITCHES.length; k++) {
            if (state.drumMap[k] === pitch) return DRUM_PITCHES[k][0];
        }
        return pitch;
    }

    // bridge -> Live: a note of a drum class goes to that class's pad.
    function toLivePitch(pitch) {
        if (!drumMapped()) return pitch;
        for (var k = 0; k < DRUM_PITCHES.length; k++) {
            if (DRUM_PITCHES[k].indexOf(pitch) >= 0) {
                return state.drumMap[k] === undefined ? pitch : state.drumMap[k];
            }
        }
        return pitch;
    }

    function setDrumPad(index, pitch) {
        index = Math.round(index);
        pitch = Math.round(pitch);
        if (!(index >= 0 && index < DRUM_PITCHES.length) || !(pitch >= 0 && pitch <= 127)) {
            return status("drum map: class 0..8 and note 0..127, not " + index + " " + pitch);
        }
        state.drumMap[index] = pitch;
    }

    // --- Live: finding clips and the device's track ------------------------------------------

    // The clip to capture: the one in the detail view (Session or Arrangement), else the
    // highlighted Session slot's clip, else the clip playing on the device's own track: its
    // Session clip (which overrides the Arrangement), else, while the song plays, the
    // Arrangement clip under the playhead.
    function findSourceClip() {
        var clip = api("live_set view detail_clip");
        if (exists(clip)) return clip;
        var slot = api("live_set view highlighted_clip_slot");
        if (exists(slot) && first(slot.get("has_clip")) == 1) {
            clip = api(slot.unquotedpath + " clip");
            if (exists(clip)) return clip;
        }
        var track = findTrack();
        if (!track) return null;
        var playing = first(track.get("playing_slot_index"));
        if (playing >= 0) {
            clip = api(track.unquotedpath + " clip_slots " + playing + " clip");
            if (exists(clip)) return clip;
        }
        return playingArrangementClip(track);
    }

    // Track.arrangement_clips (Live 11+): the clip with start_time <= song time < end_time.
    function playingArrangementClip(track) {
        var song = api("live_set");
        if (first(song.get("is_playing")) != 1) return null;
        var beat = Number(first(song.get("current_song_time")));
        var count = track.getcount("arrangement_clips");
        for (var i = 0; i < count; i++) {
            var clip = api(track.unquotedpath + " arrangement_clips " + i);
            if (!exists(clip)) continue;
            var start = Number(first(clip.get("start_time")));
            var end = Number(first(clip.get("end_time")));
            if (start <= beat && beat < end) return clip;
        }
        return null;
    }

    // A device may sit inside a rack chain: walk up until the Track.
    function findTrack() {
        var obj = api("this_device");
        for (var depth = 0; depth < 8 && exists(obj); depth++) {
            obj = api(obj.unquotedpath + " canonical_parent");
            if (exists(obj) && obj.type === "Track") return obj;
        }
        return null;
    }

    // Notes of a clip in beats from where it starts playing (the loop start of a looped clip,
    // else the start marker) for `length` beats, unmuted, sorted by start then pitch.
    function readClip(clip) {
        if (first(clip.get("is_midi_clip")) != 1) throw new Error("the selected clip is an audio clip");
        var looping = first(clip.get("looping")) == 1;
        var from = Number(first(clip.get(looping ? "loop_start" : "start_marker"))) || 0;
        var length = Number(first(clip.get("length")));
        var raw = clip.call("get_notes_extended", 0, 128, from, length);
        var dict = typeof raw === "string" ? JSON.parse(raw) : raw;
        var notes = [];
        var list = (dict && dict.notes) || [];
        for (var i = 0; i < list.length; i++) {
            var n = list[i];
            if (n.mute) continue;
            notes.push({pitch: toBridgePitch(n.pitch), start: n.start_time - from, duration: n.duration,
                        velocity: Math.max(1, Math.min(127, Math.round(n.velocity)))});
        }
        notes.sort(function (a, b) { return a.start - b.start || a.pitch - b.pitch; });
        return {notes: notes, length: length, name: String(first(clip.get("name")) || "")};
    }

    function capture(slot) {
        slot = String(slot).toUpperCase();
        if (SLOTS.indexOf(slot) < 0) return status("capture: slot must be A or B, not " + slot);
        var clip = findSourceClip();
        if (!clip) return status("capture " + slot + ": select a MIDI clip first");
        var data;
        try {
            data = readClip(clip);
        } catch (err) {
            return status("capture " + slot + ": " + err.message);
        }
        sendClip(slot, data.notes, data.length);
        status("sent " + data.notes.length + " notes to slot " + slot +
               (data.name ? " (" + data.name + ")" : ""));
    }

    function sendClip(slot, notes, length) {
        send("/lb/clip/begin", [slot, asFloat(length), notes.length]);
        for (var i = 0; i < notes.length; i += cfg.chunkNotes) {
            var args = [slot];
            var chunk = notes.slice(i, i + cfg.chunkNotes);
            for (var j = 0; j < chunk.length; j++) {
                args.push(chunk[j].pitch, asFloat(chunk[j].start), asFloat(chunk[j].duration),
                          chunk[j].velocity);
            }
            send("/lb/clip/notes", args);
        }
        send("/lb/clip/end", [slot]);
    }

    // Max sends whole-number floats as ints; the bridge accepts both (docs/osc.md), so this
    // only rounds away float noise from Live's note times.
    function asFloat(x) {
        return Math.round(Number(x) * 1e6) / 1e6;
    }

    // --- writing a result into a new clip ----------------------------------------------------

    function writeClip(notes, length, name) {
        var track = findTrack();
        if (!track) return status("write: the device is not on a track");
        if (first(track.get("has_midi_input")) != 1) return status("write: not a MIDI track");
        var count = track.getcount("clip_slots");
        for (var i = 0; i < count; i++) {
            var slotPath = track.unquotedpath + " clip_slots " + i;
            var slot = api(slotPath);
            if (first(slot.get("has_clip")) == 1) continue;
            // Live reports a failed call on the Max console and carries on: look, don't trust.
            slot.call("create_clip", asFloat(length));
            var clip = api(slotPath + " clip");
            if (!exists(clip)) {
                return status("write: Live made no clip in slot " + (i + 1) + " (see the Max console)");
            }
            var spec = [];
            var span = length;
            for (var j = 0; j < notes.length; j++) {
                var n = notes[j];
                spec.push({pitch: toLivePitch(n.pitch), start_time: n.start, duration: n.duration,
                           velocity: n.velocity, mute: 0});
                span = Math.max(span, n.start + 1);
            }
            if (spec.length) clip.call("add_new_notes", {notes: spec});
            if (name) clip.set("name", name);
            var kept = countNotes(clip, span);
            if (kept !== notes.length) {
                status("write: Live kept " + kept + " of " + notes.length + " notes in clip slot " +
                       (i + 1) + " (see the Max console)");
                return -1;
            }
            status("wrote " + kept + " notes to clip slot " + (i + 1));
            return i;
        }
        return status("write: no empty clip slot on this track (add a scene)");
    }

    // The notes the clip really holds (read back from Live).
    function countNotes(clip, span) {
        var raw = clip.call("get_notes_extended", 0, 128, 0, asFloat(span));
        if (raw === undefined || raw === null) return 0;
        var dict = typeof raw === "string" ? JSON.parse(raw) : raw;
        return (dict && dict.notes) ? dict.notes.length : 0;
    }

    // --- results and streamed bars from the bridge -------------------------------------------

    function readNotes(args, from) {
        var notes = [];
        for (var i = from; i + 3 < args.length; i += 4) {
            notes.push({pitch: Math.round(args[i]), start: Number(args[i + 1]),
                        duration: Number(args[i + 2]), velocity: Math.round(args[i + 3])});
        }
        return notes;
    }

    function onResult(address, args) {
        if (address === "/lb/result/begin") {
            state.result = {id: args[0], length: Number(args[1]), count: args[2], notes: []};
        } else if (address === "/lb/result/notes") {
            if (state.result && args[0] == state.result.id) {
                state.result.notes = state.result.notes.concat(readNotes(args, 1));
            }
        } else if (state.result && args[0] == state.result.id) {   // /lb/result/end
            var result = state.result;
            state.result = null;
            state.lastResult = result;
            if (result.notes.length !== result.count) {
                return status("result " + result.id + ": got " + result.notes.length +
                              " of " + result.count + " notes (lost datagrams?)");
            }
            if (state.writeOnResult) {
                state.writeOnResult = false;
                writeClip(result.notes, result.length, "latentbridge " + result.id);
            } else {
                status("result " + result.id + ": " + result.notes.length + " notes");
            }
        }
    }

    function onBar(args) {
        var index = Math.round(args[0]);
        var bar = state.bars[index];
        if (!bar || bar.closed) {   // a later /lb/bar for a closed bar replaces it
            if (bar && handedOver(bar)) requeue();
            bar = state.bars[index] = {start: Number(args[1]), notes: [], closed: false};
        }
        var notes = readNotes(args, 2);
        for (var i = 0; i < notes.length; i++) {
            notes[i].pitch = toLivePitch(notes[i].pitch);
            notes[i].beat = bar.start + notes[i].start;
            notes[i].played = false;
            bar.notes.push(notes[i]);
        }
    }

    // Notes of the bar already waiting in [pipe] (handed over, not yet due)?
    function handedOver(bar) {
        var beat = currentBeat();
        for (var i = 0; i < bar.notes.length; i++) {
            if (bar.notes[i].played && bar.notes[i].beat >= beat) return true;
        }
        return false;
    }

    // Empty [pipe] (sounding notes go on) and hand over again what is still ahead.
    function requeue() {
        env.outlet(1, ["flush"]);
        var beat = currentBeat();
        for (var index in state.bars) {
            var notes = state.bars[index].notes;
            for (var i = 0; i < notes.length; i++) {
                if (notes[i].beat >= beat) notes[i].played = false;
            }
        }
    }

    // A bar that comes just before it plays (follow mode answers a phrase a 32nd before its
    // end) is handed over at once, not at the next tick.
    function onBarEnd(args) {
        var bar = state.bars[Math.round(args[0])];
        if (bar) bar.closed = true;
        if (bar && state.transport.playing) handOver();
    }

    // --- transport: observe Live, report to the bridge, play streamed bars -------------------

    function observe(property) {
        var obs = api("live_set", function (values) {
            if (!values || values[0] !== property) return;
            onTransport(property, values[1]);
        });
        obs.property = property;
        state.observers.push(obs);
        return obs;
    }

    function currentBeat() {
        var t = state.transport;
        if (!t.playing) return t.beat;
        return t.beat + (now() - t.beatAt) * t.tempo / 60000;
    }

    function onTransport(property, value) {
        var t = state.transport;
        var force = false;
        if (property === "current_song_time") {
            // Live's notifications reach [js] late and unevenly: keep the running estimate
            // unless the song time is really elsewhere. Timing of notes does not depend on it
            // (the patch schedules against [transport]); only which notes go to [pipe] when.
            var off = Math.abs(Number(value) - currentBeat());
            var jumped = off > 0.5;
            if (!t.playing || off > cfg.resyncBeats) {
                t.beat = Number(value);
                t.beatAt = now();
            }
            if (jumped && state.ready) { force = true; relocated(); }
        } else if (property === "is_playing") {
            t.playing = Number(value) ? 1 : 0;
            t.beatAt = now();
            force = true;
            if (!t.playing && state.ready) env.outlet(1, ["clear"]);
        } else if (property === "tempo") {
            t.beat = currentBeat();
            t.beatAt = now();
            t.tempo = Number(value);
            force = true;
        } else if (property === "signature_numerator") {
            t.numerator = Number(value); force = true;
        } else if (property === "signature_denominator") {
            t.denominator = Number(value); force = true;
        }
        reportTransport(force);
    }

    function reportTransport(force) {
        if (!state.ready) return;
        var t = state.transport;
        var at = now();
        if (!force && at - t.sentAt < cfg.transportEveryMs) return;
        t.sentAt = at;
        send("/lb/transport", [t.playing, asFloat(currentBeat()), asFloat(t.tempo),
                               t.numerator, t.denominator]);
    }

    // After a jump, notes ahead of the new playhead may play again.
    function relocated() {
        env.outlet(1, ["clear"]);
        var beat = currentBeat();
        for (var index in state.bars) {
            var notes = state.bars[index].notes;
            for (var i = 0; i < notes.length; i++) {
                if (notes[i].beat >= beat) notes[i].played = false;
            }
        }
    }

    // Called every tickMs: hands the notes of the next lookaheadBeats to [pipe], each with its
    // song position in ticks. [js] runs late and unevenly (Max's low-priority thread), so it
    // does not time anything: the patch reads [transport] and waits the difference in ticks
    // on the scheduler thread, so a note plays at its beat whenever it was handed over.
    // A note found more than lateMs after its beat is dropped, not played late.
    function tick() {
        if (!state.transport.playing) return;
        reportTransport(false);
        handOver();
    }

    // The notes of the next lookaheadBeats to [pipe] (each once), late ones dropped.
    function handOver() {
        var t = state.transport;
        var beat = currentBeat();
        var msPerBeat = 60000 / t.tempo;
        var horizon = beat + cfg.lookaheadBeats;
        for (var index in state.bars) {
            var bar = state.bars[index];
            var notes = bar.notes;
            var done = true;
            for (var i = 0; i < notes.length; i++) {
                var n = notes[i];
                if (n.played) continue;
                if (n.beat < beat - cfg.lateMs / msPerBeat) { n.played = true; state.lateNotes++; continue; }
                if (n.beat >= horizon) { done = false; continue; }
                n.played = true;
                env.outlet(1, ["note", n.pitch, n.velocity, Math.max(1, Math.round(n.duration * msPerBeat)),
                               Math.round(n.beat * cfg.ticksPerBeat * 1000) / 1000]);
            }
            // Forget bars that are fully played and long past (keeps the queue small).
            if (done && bar.closed && bar.start < beat - 64) delete state.bars[index];
        }
    }

    // --- controls -----------------------------------------------------------------------------

    // Buttons (live.text) send 1 on press; a 0 (release, or a stored value restored at load)
    // must not fire them.
    var BUTTONS = {connect: 1, capture: 1, capture_a: 1, capture_b: 1, generate: 1, write: 1};

    // The last value of each setting, sent again whenever the bridge (re)appears; stream last,
    // so a resumed stream starts with the other settings in place. The chosen model follows
    // separately (onBridgeModel), only when the bridge has another one loaded.
    var SETTINGS = ["mode", "position", "temperature", "amount", "bars", "seed", "continue_bars",
                    "follow_bars", "answer", "stream"];

    function resendSettings() {
        for (var i = 0; i < SETTINGS.length; i++) {
            var value = state.settings[SETTINGS[i]];
            if (value === undefined) continue;
            if (SETTINGS[i] === "bars" && state.loadingModel) continue;  // after /lb/model/loaded
            control(SETTINGS[i], [value]);
        }
    }

    function control(name, args) {
        var value = args[0];
        if (BUTTONS[name] && value !== undefined && Number(value) === 0) return;
        if (name === "mode") return chooseMode(value);   // kept by name, not menu index
        if (name === "answer") return chooseAnswer(value);
        if (SETTINGS.indexOf(name) >= 0) state.settings[name] = value;
        if (name === "connect") return connect();
        if (name === "capture") return capture(value === undefined ? "A" : value);
        if (name === "capture_a") return capture("A");
        if (name === "capture_b") return capture("B");
        if (name === "model") {
            var model = typeof value === "number" ? state.models[Math.round(value)] : String(value);
            if (model === undefined) return post("latentbridge: no model " + value + " yet\n");
            // Refilling the menu (or restoring it) may send the item it shows: the loaded model
            // (the bridge lists it first) or the one being loaded. Do not load it again.
            if (model === state.model || model === state.loadingModel) return;
            state.chosenModel = model;
            ui("savemodel", [model]);             // stored with the Live set ([pattr])
            return loadModel(model);
        }
        if (name === "position") return send("/lb/position", [asFloat(value)]);
        if (name === "temperature") return send("/lb/temperature", [asFloat(value)]);
        if (name === "amount") return send("/lb/amount", [asFloat(value)]);
        if (name === "bars") return send("/lb/bars", [Math.round(value)]);
        if (name === "seed") return send("/lb/seed", [Math.round(value)]);
        if (name === "continue_bars") return send("/lb/continue/bars", [Math.round(value)]);
        if (name === "follow_bars") return send("/lb/follow/bars", [Math.round(value)]);
        if (name === "stream") {
            var on = Number(value) ? 1 : 0;
            if (!on) { state.bars = {}; env.outlet(1, ["clear"]); }
            return send("/lb/stream", [on]);
        }
        if (name === "generate") return send("/lb/generate");
        if (name === "saved_model") {            // restored with the set, before or after init
            if (value === undefined || value === "" || typeof value === "number") return;
            state.chosenModel = String(value);
            if (state.connected && state.chosenModel !== state.model &&
                state.chosenModel !== state.loadingModel) loadModel(state.chosenModel);
            return;
        }
        if (name === "saved_mode") {             // restored with the set, before or after init
            if (value === undefined || value === "" || typeof value === "number") return;
            state.settings.mode = String(value);
            showTool();
            if (state.connected) send("/lb/mode", [state.settings.mode]);
            return;
        }
        if (name === "drum") return setDrumPad(args[0], args[1]);
        if (name === "write") {
            state.writeOnResult = true;
            return send("/lb/generate");
        }
        status("unknown control " + name);
    }

    // --- the one entry point ------------------------------------------------------------------

    function handle(name, args) {
        args = args || [];
        if (name.charAt(0) !== "/") return control(name, args);
        state.portHeard = true;                   // a reply came in: our port works
        if (name === "/lb/pong") return onPong();
        if (name === "/lb/hello") {
            var loading = state.loadingModel;
            onPong(args[1]);
            status("bridge " + args[0] + (args[1] ? ", model " + args[1] : ""));
            // a reconnect that reloads the chosen model: say so last
            if (state.loadingModel && state.loadingModel !== loading) {
                status("loading " + state.loadingModel + " ...");
            }
            return;
        }
        if (name === "/lb/models") {
            state.models = args.map(String);
            if (state.models.length) state.model = state.models[0];   // docs/osc.md: loaded first
            ui("models", state.models);
            return showModelInMenu();
        }
        if (name === "/lb/modes") return onModes(args);
        if (name === "/lb/model/loaded") {
            state.model = String(args[0]);
            if (state.loadingModel === state.model) state.loadingModel = "";
            showModelInMenu();
            send("/lb/modes");                   // another model may offer other tools
            // /lb/bars is checked against the loaded model: a value refused by the previous
            // one (e.g. 8 bars on a 2-bar model) is sent again now that it fits.
            var bars = state.settings.bars;
            if (bars !== undefined && Math.round(bars) <= Number(args[2])) control("bars", [bars]);
            return status("model " + args[0] + " (" + args[1] + ", " + args[2] + " bars)");
        }
        if (name === "/lb/status") {
            onBridgeModel(args[0]);
            return ui("bridge", args);
        }
        if (name === "/lb/clip/ok") return status("slot " + args[0] + ": " + args[1] + " notes encoded");
        if (name.indexOf("/lb/result/") === 0) return onResult(name, args);
        if (name === "/lb/bar") return onBar(args);
        if (name === "/lb/bar/end") return onBarEnd(args);
        if (name === "/lb/error") {
            if (args[0] === "/lb/model") {       // a model that does not load is not retried
                if (state.chosenModel === state.loadingModel) state.chosenModel = "";
                state.loadingModel = "";
                showModelInMenu();
            }
            return status("error " + args[0] + ": " + args.slice(1).join(" "));
        }
        post("latentbridge: ignored " + name + "\n");
    }

    function init() {
        var props = ["is_playing", "current_song_time", "tempo",
                     "signature_numerator", "signature_denominator"];
        for (var i = 0; i < props.length; i++) observe(props[i]);
        state.ready = true;
        reportTransport(true);
        task("tick", tick, cfg.tickMs, true);
        task("keepalive", keepAlive, cfg.pingEveryMs, true);
        showTool();
        connect();
    }

    // The device is deleted: say /lb/bye (the bridge ends this device's session and its
    // notes), stop the timers and detach the observers (an empty property ends the
    // observation) so Live stops calling into a dead script.
    function free() {
        if (state.replyPort) send("/lb/bye");
        for (var name in state.tasks) state.tasks[name].cancel();
        state.tasks = {};
        for (var i = 0; i < state.observers.length; i++) state.observers[i].property = "";
        state.observers = [];
        state.ready = false;
        if (state.replyPort && ports[state.replyPort]) delete ports[state.replyPort];
        state.replyPort = 0;
    }

    return {init: init, handle: handle, tick: tick, free: free, state: state,
            sendClip: sendClip, writeClip: writeClip, capture: capture, config: cfg};
}

// --- Max glue: the globals Max looks for, delegating to one device --------------------------

if (typeof module !== "undefined" && module.exports) {
    module.exports = {createDevice: createDevice, DEFAULTS: DEFAULTS, FIRST_MODES: FIRST_MODES,
                      TOOL_CONTROLS: TOOL_CONTROLS, TOOL_SPECIFIC: TOOL_SPECIFIC,
                      TOOL_TEMPERATURE: TOOL_TEMPERATURE,
                      FOLLOW_ANSWERS: FOLLOW_ANSWERS,
                      DRUM_CLASSES: DRUM_CLASSES, DRUM_PITCHES: DRUM_PITCHES};
} else {
    inlets = 1;
    outlets = 3;
    autowatch = 1;
}

var lbDevice = null;

function lbMaxDevice() {
    if (!lbDevice) {
        lbDevice = createDevice({
            outlet: function (index, message) { outlet(index, message); },
            post: post,
            LiveAPI: LiveAPI,
            Task: function (fn) { return new Task(fn, this); },
            ports: lbSharedPorts()
        });
    }
    return lbDevice;
}

// One table of taken reply ports for every latentbridge device in this Max (all devices of a
// Live set share one Max), kept in a Max Global.
function lbSharedPorts() {
    if (typeof Global === "undefined") return {};
    var shared = new Global("latentbridge");
    if (!shared.replyPorts) shared.replyPorts = {};
    return shared.replyPorts;
}

// [live.thisdevice] bangs when the Live API is ready: start observers, timers and connect.
function bang() {
    lbMaxDevice().init();
}

function anything() {
    lbMaxDevice().handle(messagename, arrayfromargs(arguments));
}

function notifydeleted() {
    if (lbDevice) lbDevice.free();
}
