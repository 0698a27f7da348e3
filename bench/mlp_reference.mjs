// bench/mlp_reference.mjs: the float64 CPU reference of bench/train_step.mjs. It runs the same
// plain-SGD steps of a ReLU MLP with softmax cross-entropy as every side does, from the same float32
// start, so each side's loss at step t can be checked against it.

/**
 * The losses of `steps` plain-SGD steps in float64 on the CPU, from the problem's float32 values: the
 * loss of step t is computed before step t's update, as every side reports it. `pr`: { x [batch,
 * sizes[0]], labels (ints), layers: [{ W [in, out], b [out] }] }, float32; ReLU after every layer but
 * the last; loss = mean softmax cross-entropy; update p -= lr·g.
 */
export function referenceLosses(pr, steps, { sizes, batch, lr }) {
  const D = sizes;
  const L = D.length - 1;
  const C = D.at(-1);
  const w = pr.layers.map((l) => Float64Array.from(l.W));
  const b = pr.layers.map((l) => Float64Array.from(l.b));
  const x = Float64Array.from(pr.x);
  // C[M, N] = A[M, K] B[K, N];  C = A[K, M]ᵀ B[K, N];  C = A[M, K] B[N, K]ᵀ
  const mm = (A, Bm, M, K, N) => {
    const out = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) {
      const a = A[i * K + k];
      if (a !== 0) for (let j = 0; j < N; j++) out[i * N + j] += a * Bm[k * N + j];
    }
    return out;
  };
  const mmTN = (A, Bm, K, M, N) => {
    const out = new Float64Array(M * N);
    for (let k = 0; k < K; k++) for (let i = 0; i < M; i++) {
      const a = A[k * M + i];
      if (a !== 0) for (let j = 0; j < N; j++) out[i * N + j] += a * Bm[k * N + j];
    }
    return out;
  };
  const mmNT = (A, Bm, M, K, N) => {
    const out = new Float64Array(M * N);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += A[i * K + k] * Bm[j * K + k];
      out[i * N + j] = acc;
    }
    return out;
  };
  const losses = [];
  for (let t = 0; t < steps; t++) {
    const hs = [x];
    const zs = [];
    for (let l = 0; l < L; l++) {
      const z = mm(hs[l], w[l], batch, D[l], D[l + 1]);
      for (let i = 0; i < batch; i++) for (let j = 0; j < D[l + 1]; j++) z[i * D[l + 1] + j] += b[l][j];
      zs.push(z);
      if (l < L - 1) hs.push(z.map((v) => (v > 0 ? v : 0)));
    }
    const z3 = zs[L - 1];
    const dz3 = new Float64Array(batch * C);
    let loss = 0;
    for (let i = 0; i < batch; i++) {
      let m = -Infinity;
      for (let j = 0; j < C; j++) m = Math.max(m, z3[i * C + j]);
      let se = 0;
      for (let j = 0; j < C; j++) se += Math.exp(z3[i * C + j] - m);
      const lse = m + Math.log(se);
      loss += lse - z3[i * C + pr.labels[i]];
      for (let j = 0; j < C; j++) dz3[i * C + j] = (Math.exp(z3[i * C + j] - lse) - (j === pr.labels[i] ? 1 : 0)) / batch;
    }
    losses.push(loss / batch);
    let dz = dz3;
    for (let l = L - 1; l >= 0; l--) {
      const dW = mmTN(hs[l], dz, batch, D[l], D[l + 1]);
      const db = new Float64Array(D[l + 1]);
      for (let i = 0; i < batch; i++) for (let j = 0; j < D[l + 1]; j++) db[j] += dz[i * D[l + 1] + j];
      let dh = null;
      if (l > 0) {
        dh = mmNT(dz, w[l], batch, D[l + 1], D[l]);
        for (let i = 0; i < dh.length; i++) if (!(zs[l - 1][i] > 0)) dh[i] = 0;
      }
      for (let i = 0; i < w[l].length; i++) w[l][i] -= lr * dW[i];
      for (let j = 0; j < b[l].length; j++) b[l][j] -= lr * db[j];
      dz = dh;
    }
  }
  return losses;
}

