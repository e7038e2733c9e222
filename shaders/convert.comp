#version 450
#extension GL_GOOGLE_include_directive : require
// dtype conversion: TO_INT == 1: i32 <- f32 (truncation toward zero); 0: f32 <- i32.
#include "common.glsl"
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int TO_INT = 0;
layout(std430, binding = 0) readonly buffer S { uint s[]; };
layout(std430, binding = 1) writeonly buffer D { uint d[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
  GRID_STRIDE(i, p.n) {
    if (TO_INT == 1) d[i] = uint(int(uintBitsToFloat(s[i])));
    else d[i] = floatBitsToUint(float(int(s[i])));
  }
}
