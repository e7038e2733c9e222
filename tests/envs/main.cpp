#define BOOST_TEST_MODULE vkwb_envs
#include <boost/test/unit_test.hpp>
