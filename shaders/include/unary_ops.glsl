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
