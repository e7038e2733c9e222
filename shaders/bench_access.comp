#version 450
#extension GL_GOOGLE_include_directive : require
// `vkwb bench access`: what one storage access costs the driver, per float moved.
// MODE 0: o[i] = i (float stores)            1: o4[q] = (4q, 4q+1, 4q+2, 4q+3) (vec4 stores)
//      2: o[i] = a[i] (float loads + stores)  3: o4[q] = a4[q] (vec4 loads + stores)
// The _texel variant reads a through a texel view instead: MODE 2 an R32F view and float stores,
// MODE 3 an RGBA32F view and vec4 stores. n is a multiple of 4.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MODE = 0;
layout(std430, binding = 0) writeonly buffer O { float o[]; };
layout(std430, binding = 0) writeonly buffer O4 { vec4 o4[]; };
#ifdef TEXEL_READS
layout(binding = 1) uniform samplerBuffer a_t;
#define LOAD1(i) texelFetch(a_t, p.a_texel + int(i)).x
#define LOAD4(q) texelFetch(a_t, p.a_texel + int(q))
#else
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer A4 { vec4 a4[]; };
#define LOAD1(i) a[i]
#define LOAD4(q) a4[q]
#endif
layout(push_constant) uniform P { uint n; int a_texel; } p;

void main() {
  if (MODE == 0) {
    GRID_STRIDE(i, p.n) o[i] = float(i);
  } else if (MODE == 1) {
    GRID_STRIDE(q, p.n / 4) o4[q] = vec4(4 * q, 4 * q + 1, 4 * q + 2, 4 * q + 3);
  } else if (MODE == 2) {
    GRID_STRIDE(i, p.n) o[i] = LOAD1(i);
  } else {
    GRID_STRIDE(q, p.n / 4) o4[q] = LOAD4(q);
  }
}
