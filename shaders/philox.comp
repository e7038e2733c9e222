#version 450
#extension GL_GOOGLE_include_directive : require
// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). Element i uses the block
// counter (i >> 1, 0, 0, 0) with key (seed_lo, seed_hi) and takes words 2*(i&1), 2*(i&1)+1, so
// the result depends only on (seed, i): identical on every device and on the CPU reference.
// DIST: 0 uniform in [a, b), 1 normal(mean a, std b) by Box-Muller, 2 bernoulli(p = a) as 0/1.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int DIST = 0;
layout(std430, binding = 0) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint n; uint seed_lo; uint seed_hi; float a; float b; } p;

uvec4 philox(uvec4 c, uvec2 k) {
  for (int r = 0; r < 10; ++r) {
    uint hi0, lo0, hi1, lo1;
    umulExtended(0xD2511F53u, c.x, hi0, lo0);
    umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
    c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    k += uvec2(0x9E3779B9u, 0xBB67AE85u);
  }
  return c;
}

float unit(uint w) { return (float(w >> 8) + 0.5) * (1.0 / 16777216.0); }  // in (0, 1)

void main() {
  GRID_STRIDE(i, p.n) {
    uvec4 w = philox(uvec4(i >> 1, 0u, 0u, 0u), uvec2(p.seed_lo, p.seed_hi));
    bool odd = (i & 1u) == 1u;
    float u1 = unit(odd ? w.z : w.x), u2 = unit(odd ? w.w : w.y);
    float r;
    if (DIST == 0) r = p.a + (p.b - p.a) * u1;
    else if (DIST == 1) r = p.a + p.b * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    else r = u1 < p.a ? 1.0 : 0.0;
    o[i] = r;
  }
}
