#define BOOST_TEST_MODULE vkwb_dqn
#include <boost/test/unit_test.hpp>

#include "support/op_check.h"

using vkwb::test::ValidationGuard;
BOOST_TEST_GLOBAL_FIXTURE(ValidationGuard);
