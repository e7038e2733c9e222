// Unary op codes; keep in sync with engine/ops/unary.h (enum class UnaryOp).
#define U_RELU 0
#define U_LEAKY_RELU 1
#define U_ELU 2
#define U_SIGMOID 3
#define U_TANH 4
#define U_SOFTPLUS 5
#define U_EXP 6
#define U_LOG 7
#define U_SQRT 8
#define U_ABS 9
#define U_NEG 10
#define U_CLAMP 11
#define U_AFFINE 12
#define U_SQUARE 13
#define U_POW 14
#define U_SIGN 15
#define U_SILU 16
#define U_GELU 17
#define U_GELU_TANH 18

// erf for GELU (GLSL has none): Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7.
vec4 erf_approx(vec4 x) {
  vec4 ax = abs(x), t = 1.0 / (1.0 + 0.3275911 * ax);
  vec4 poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(x) * (1.0 - poly * exp(-ax * ax));
}
const float GELU_C = 0.7978845608028654;   // sqrt(2 / pi)
// tanh(GELU_C * (v + 0.044715 v^3)), its argument clamped where tanh is +-1 in float anyway.
vec4 gelu_tanh_t(vec4 v) { return tanh(clamp(GELU_C * (v + 0.044715 * v * v * v), -15.0, 15.0)); }
