// Shared helpers. Every 1-D kernel uses a grid-stride loop, so the host may cap the number of
// workgroups at the device's maxComputeWorkGroupCount and any n still works.
#ifndef VKWB_COMMON_GLSL
#define VKWB_COMMON_GLSL
#define GRID_STRIDE(i, n) \
  for (uint i = gl_GlobalInvocationID.x; i < uint(n); i += gl_NumWorkGroups.x * gl_WorkGroupSize.x)
#endif
