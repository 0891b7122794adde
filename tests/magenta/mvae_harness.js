// Runs @magenta/music's MusicVAE on a checkpoint folder and writes what it computes as JSON.
//
// Usage (the parity test does this; NODE_PATH points at a folder with @magenta/music installed):
//
//     NODE_PATH=~/.cache/latentbridge-node/node_modules \
//         node tests/magenta/mvae_harness.js CHECKPOINT_DIR REQUEST.json RESULT.json
//
// REQUEST.json: {"z": [[...], ...]            latent vectors to decode with argmax (no temperature)
//                "sequences": [NoteSequence]   quantized NoteSequence JSON objects to encode
//                "inputs": [B][T][D]           model inputs to encode without the data converter
//                "converters": [spec]}         more data converters ({"type", "args"}) to run on
//                                              the sequences (the model's own always runs)
// RESULT.json:  {"outputs": [B][T][D]          the decoder's one-hot (or NADE bit) output per step
//                "decoded": [NoteSequence]     the same, through the data converter
//                "mu": [[...], ...]            MusicVAE.encode(sequences), the mean of z
//                "converted": [B][T][D]        the data converter's tensors for the sequences
//                "inputs_mu": [[...], ...]     the encoder network's mean of z for the inputs
//                "converter_tensors": [C][B][T][D]  each extra converter's tensors
//                "numSteps", "numSegments", "outputDims"}
//
// MusicVAE fetches config.json and the weight shards over HTTP, so the harness serves the
// checkpoint folder itself on 127.0.0.1 (loopback only, a free port) for the time of the run.
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');
const Module = require('module');

// @magenta/music's node build imports Tone.js (audio playback) at load time; its ESM build does
// not resolve under plain node and nothing here plays audio, so hand it an empty module.
const originalLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'tone') return {};
  return originalLoad.apply(this, arguments);
};

function serve(folder) {
  const server = http.createServer((req, res) => {
    const name = decodeURIComponent(req.url.split('?')[0]).replace(/^\/+/, '');
    const file = path.join(folder, name);
    if (!file.startsWith(path.resolve(folder)) || !fs.existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, {'Content-Type': 'application/octet-stream'});
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const [checkpointDir, requestPath, resultPath] = process.argv.slice(2);
  if (!resultPath) {
    console.error('usage: node mvae_harness.js CHECKPOINT_DIR REQUEST.json RESULT.json');
    process.exit(2);
  }
  const request = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  const tf = require('@tensorflow/tfjs');
  const mvae = require('@magenta/music/node/music_vae');
  await tf.setBackend('cpu');

  const server = await serve(path.resolve(checkpointDir));
  const url = `http://127.0.0.1:${server.address().port}`;
  const model = new mvae.MusicVAE(url);
  try {
    await model.initialize();
  } finally {
    server.close();
  }

  const result = {
    numSteps: model.dataConverter.numSteps,
    numSegments: model.dataConverter.numSegments || 0,
    outputDims: model.decoder.outputDims,
  };
  if (request.z && request.z.length) {
    const z = tf.tensor2d(request.z);
    // The decoder's raw output (one-hot per step), exactly what decode() hands the converter.
    const outputs = model.decoder.decode(z, model.dataConverter.numSteps);
    result.outputs = outputs.arraySync();
    outputs.dispose();
    result.decoded = (await model.decode(z)).map((ns) => ns.toJSON());
    z.dispose();
  }
  if (request.inputs && request.inputs.length) {
    // The encoder network alone on given model inputs [B][T][D], bypassing the data converter.
    const inputs = tf.tensor3d(request.inputs);
    const segmentLengths = undefined;
    const mu = model.encoder.encode(inputs, segmentLengths);
    result.inputs_mu = mu.arraySync();
    mu.dispose();
    inputs.dispose();
  }
  if (request.sequences && request.sequences.length) {
    const tensors = request.sequences.map((ns) => model.dataConverter.toTensor(ns));
    result.converted = tensors.map((t) => t.arraySync());
    tensors.forEach((t) => t.dispose());
    const mu = await model.encode(request.sequences);
    result.mu = mu.arraySync();
    mu.dispose();
    const data = require('@magenta/music/node/core').data;
    result.converter_tensors = (request.converters || []).map((spec) => {
      const converter = data.converterFromSpec(spec);
      return request.sequences.map((ns) => {
        const t = converter.toTensor(ns);
        const values = t.arraySync();
        t.dispose();
        return values;
      });
    });
  }
  model.dispose();
  fs.writeFileSync(resultPath + '.tmp', JSON.stringify(result));
  fs.renameSync(resultPath + '.tmp', resultPath);
}

main().catch((err) => {
  console.error(`mvae_harness: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
