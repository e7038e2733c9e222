// Shared helpers. Every 1-D kernel uses a grid-stride loop, so the host may cap the number of
// workgroups at the device's maxComputeWorkGroupCount and any n still works.
#ifndef VKWB_COMMON_GLSL
#define VKWB_COMMON_GLSL
#define GRID_STRIDE(i, n) \
  for (uint i = gl_GlobalInvocationID.x; i < uint(n); i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
#endif

// Inputs of kernels that also build as <stem>_texel (shaders/CMakeLists.txt): INPUT_F / INPUT_U
// declare a float / 32-bit-word input at a binding, LOAD_F / LOAD_U(name, off, i) read element i.
// With TEXEL_READS the input is a uniform texel buffer viewing the tensor's whole memory block and
// `off` (a push constant) is the tensor's first texel; without, a storage buffer and `off` unused.
#ifdef TEXEL_READS
#define INPUT_F(b, name) layout(binding = b) uniform samplerBuffer name##_t;
#define INPUT_U(b, name) layout(binding = b) uniform usamplerBuffer name##_t;
#define LOAD_F(name, off, i) texelFetch(name##_t, int(off) + int(i)).x
#define LOAD_U(name, off, i) texelFetch(name##_t, int(off) + int(i)).x
#else
#define INPUT_F(b, name) layout(std430, binding = b) readonly buffer name##_B { float name##_s[]; };
#define INPUT_U(b, name) layout(std430, binding = b) readonly buffer name##_B { uint name##_s[]; };
#define LOAD_F(name, off, i) name##_s[i]
#define LOAD_U(name, off, i) name##_s[i]
#endif
