// Reference run of face-api's AgeGenderNet by the library itself: @vladmandic/face-api
// 1.7.15 (dist/face-api.node-wasm.js, with @tensorflow/tfjs 4.22.0 on its CPU backend, in
// node). Used by verify_age.py to check models/agegendernet.onnx.
//
// usage: NODE_PATH=DIR/node_modules node faceapi_run.cjs FACE_API_PKG INPUT.f32 N,H,W,3 OUT_PREFIX
//   FACE_API_PKG: the unpacked npm package (its dist/ and model/ are used).
//   INPUT.f32: raw little-endian float32, NHWC, RGB 0..255. Each image goes through the
//   library's own input path (NetInput.toBatchTensor(112, true): zero-pad to a square,
//   centred, then tf.image.resizeBilinear to 112x112; a 112x112 input is passed unchanged).
//   Writes OUT_PREFIX_age.f32 ([N] years) and OUT_PREFIX_gender.f32 ([N,2] softmax).
// needs @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm 4.22.0 (the versions face-api
// 1.7.15 is built against); the wasm backend is only loaded, not used.
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const [pkg, inFile, shapeArg, outPrefix] = process.argv.slice(2);
  const faceapi = require(path.resolve(pkg, 'dist/face-api.node-wasm.js'));
  const tf = faceapi.tf;
  await tf.setBackend('cpu');
  await tf.ready();
  const man = JSON.parse(fs.readFileSync(path.join(pkg, 'model/age_gender_model-weights_manifest.json'), 'utf8'));
  const specs = man.flatMap((g) => g.weights);
  const buf = Buffer.concat(man.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(pkg, 'model', p)))));
  const weightMap = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), specs);
  const net = faceapi.nets.ageGenderNet;
  net.loadFromWeightMap(weightMap);
  const shape = shapeArg.split(',').map(Number);
  const raw = fs.readFileSync(inFile);
  const x = tf.tensor4d(new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)), shape);
  const ages = [];
  const genders = [];
  for (let i = 0; i < shape[0]; i++) {
    const xi = tf.slice(x, [i, 0, 0, 0], [1, shape[1], shape[2], 3]);
    const out = await net.forward(xi);
    ages.push(...(await out.age.data()));
    genders.push(...(await out.gender.data()));
  }
  fs.writeFileSync(`${outPrefix}_age.f32`, Buffer.from(new Float32Array(ages).buffer));
  fs.writeFileSync(`${outPrefix}_gender.f32`, Buffer.from(new Float32Array(genders).buffer));
  console.error(`faceapi_run: ${shape[0]} x [${shape.slice(1)}] -> age, gender (face-api ${faceapi.version}, tfjs-core ${tf.version_core}, backend ${tf.getBackend()})`);
}
main().catch((e) => { console.error(e); process.exit(1); });
