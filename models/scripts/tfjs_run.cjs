// Reference run of a TFJS graph model with TensorFlow.js itself (the runtime the model was
// published for), CPU backend, in node. Used by verify_human.py to check the ONNX files.
//
// usage: NODE_PATH=DIR/node_modules node tfjs_run.cjs MODEL.json INPUT.f32 N,H,W,C OUTDIR
//   INPUT.f32: raw little-endian float32, NHWC.  Writes OUTDIR/<signature output key>.f32
//   for each output (raw float32) and OUTDIR/outputs.json ({key: shape}).
// needs @tensorflow/tfjs-core, -converter and -backend-cpu (4.2.0, the version that
// @vladmandic/human 3.0.4 bundles).
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfc = require('@tensorflow/tfjs-converter');

async function main() {
  const [modelJson, inputFile, shapeArg, outDir] = process.argv.slice(2);
  await tf.setBackend('cpu');
  await tf.ready();
  const dir = path.dirname(modelJson);
  const handler = {
    load: async () => {
      const j = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
      const specs = [];
      const bufs = [];
      for (const group of j.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(bufs);
      return {
        modelTopology: j.modelTopology,
        format: j.format,
        generatedBy: j.generatedBy,
        convertedBy: j.convertedBy,
        signature: j.signature,
        userDefinedMetadata: j.userDefinedMetadata,
        weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
      };
    },
  };
  const model = await tfc.loadGraphModel(handler);
  const shape = shapeArg.split(',').map(Number);
  const raw = fs.readFileSync(inputFile);
  const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const input = tf.tensor(data, shape, 'float32');
  const names = model.outputs.map((o) => o.name);
  const res = model.execute(input, names);
  const outs = Array.isArray(res) ? res : [res];
  fs.mkdirSync(outDir, { recursive: true });
  const meta = {};
  for (let i = 0; i < outs.length; i++) {
    const key = names[i].replace(/[^A-Za-z0-9_.-]/g, '_');
    fs.writeFileSync(path.join(outDir, `${key}.f32`), Buffer.from((await outs[i].data()).buffer));
    meta[names[i]] = { file: `${key}.f32`, shape: outs[i].shape };
  }
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(meta, null, 1));
  console.error(`tfjs_run: ${path.basename(modelJson)} [${shape}] -> ${Object.entries(meta).map(([k, v]) => `${k} [${v.shape}]`).join(', ')} (tfjs-core ${tf.version_core}, backend ${tf.getBackend()})`);
}
main().catch((e) => { console.error(e); process.exit(1); });
