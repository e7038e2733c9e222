#include <boost/test/unit_test.hpp>

#include <gif_lib.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "engine/error.h"
#include "envs/env.h"
#include "envs/gif.h"

using namespace vkwb::envs;

BOOST_AUTO_TEST_SUITE(gif)

BOOST_AUTO_TEST_CASE(writes_a_gif_giflib_reads_back) {
  auto env = make_env("minatar-breakout");
  env->reset(1);
  std::vector<Image> frames;
  for (int t = 0; t < 5; ++t) {
    frames.push_back(env->render(4));
    env->step(t % 3);
  }
  const std::string path = (std::filesystem::temp_directory_path() / "vkwb_test_breakout.gif").string();
  write_gif(path, frames, 8);
  BOOST_TEST(!std::filesystem::exists(path + ".tmp"));

  char header[6] = {};
  std::ifstream(path, std::ios::binary).read(header, 6);
  BOOST_TEST(std::string(header, 6) == "GIF89a");

  int err = 0;
  GifFileType* gif = DGifOpenFileName(path.c_str(), &err);
  BOOST_REQUIRE(gif != nullptr);
  BOOST_REQUIRE(DGifSlurp(gif) == GIF_OK);
  BOOST_TEST(gif->ImageCount == 5);
  BOOST_TEST(gif->SWidth == 40);
  BOOST_TEST(gif->SHeight == 40);
  // Colours survive exactly: the palette holds every colour the frames use.
  const ColorMapObject* map = gif->SColorMap;
  BOOST_REQUIRE(map != nullptr);
  for (int i = 0; i < 5; ++i) {
    const SavedImage& img = gif->SavedImages[i];
    for (int p = 0; p < 40 * 40; p += 37) {
      const GifColorType c = map->Colors[img.RasterBits[p]];
      const uint8_t* want = &frames[size_t(i)].rgb[size_t(p) * 3];
      BOOST_REQUIRE((c.Red == want[0] && c.Green == want[1] && c.Blue == want[2]));
    }
    GraphicsControlBlock gcb;
    BOOST_REQUIRE(DGifSavedExtensionToGCB(gif, i, &gcb) == GIF_OK);
    BOOST_TEST(gcb.DelayTime == 8);
  }
  DGifCloseFile(gif, &err);
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(many_colours_fall_back_to_a_colour_cube) {
  Image img;
  img.width = 64;
  img.height = 64;
  for (int i = 0; i < 64 * 64; ++i) {
    img.rgb.push_back(uint8_t(i));
    img.rgb.push_back(uint8_t(i >> 4));
    img.rgb.push_back(uint8_t(255 - i));
  }
  const std::string path = (std::filesystem::temp_directory_path() / "vkwb_test_cube.gif").string();
  write_gif(path, {img, img}, 5);
  int err = 0;
  GifFileType* gif = DGifOpenFileName(path.c_str(), &err);
  BOOST_REQUIRE(gif != nullptr);
  BOOST_REQUIRE(DGifSlurp(gif) == GIF_OK);
  BOOST_TEST(gif->ImageCount == 2);
  DGifCloseFile(gif, &err);
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(errors_name_the_path) {
  Image a;
  a.width = a.height = 2;
  a.rgb.assign(12, 0);
  Image b = a;
  b.width = 1;
  b.rgb.assign(6, 0);
  BOOST_CHECK_THROW(write_gif("/tmp/x.gif", {}, 5), vkwb::Error);
  BOOST_CHECK_THROW(write_gif("/tmp/x.gif", {a, b}, 5), vkwb::Error);
  const std::string bad = "/nonexistent_dir_vkwb/out.gif";
  try {
    write_gif(bad, {a}, 5);
    BOOST_FAIL("expected an error");
  } catch (const vkwb::Error& e) {
    BOOST_TEST(std::string(e.what()).find(bad) != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
