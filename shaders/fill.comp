#version 450
#extension GL_GOOGLE_include_directive : require
// out[i] = value (32-bit pattern, so f32 and i32 share the kernel).
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(std430, binding = 0) writeonly buffer O { uint o[]; };
layout(push_constant) uniform P { uint n; uint bits; } p;
void main() {
  GRID_STRIDE(i, p.n) { o[i] = p.bits; }
}
