#define BOOST_TEST_MODULE agents_core
#include <boost/test/unit_test.hpp>
