#include "envs/gif.h"

#include <gif_lib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "engine/error.h"

namespace vkwb::envs {

namespace {

uint32_t pack(const uint8_t* p) { return uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]; }

struct Palette {
  std::vector<GifColorType> colours;
  std::unordered_map<uint32_t, uint8_t> index;  // exact mode only
  bool cube = false;

  uint8_t lookup(const uint8_t* p) const {
    if (!cube) return index.at(pack(p));
    auto level = [](uint8_t v) { return (int(v) * 5 + 127) / 255; };
    return uint8_t(level(p[0]) * 36 + level(p[1]) * 6 + level(p[2]));
  }
};

Palette build_palette(const std::vector<Image>& frames) {
  Palette pal;
  for (const auto& f : frames) {
    for (size_t i = 0; i + 2 < f.rgb.size() && !pal.cube; i += 3) {
      const uint32_t key = pack(&f.rgb[i]);
      if (pal.index.count(key)) continue;
      if (pal.index.size() == 256) {
        pal.cube = true;
        break;
      }
      pal.index.emplace(key, uint8_t(pal.colours.size()));
      pal.colours.push_back({f.rgb[i], f.rgb[i + 1], f.rgb[i + 2]});
    }
  }
  if (pal.cube) {
    pal.index.clear();
    pal.colours.clear();
    for (int r = 0; r < 6; ++r)
      for (int g = 0; g < 6; ++g)
        for (int b = 0; b < 6; ++b) pal.colours.push_back({GifByteType(r * 51), GifByteType(g * 51), GifByteType(b * 51)});
  }
  // giflib wants a power-of-two colour count of at least 2.
  size_t size = 2;
  while (size < pal.colours.size()) size *= 2;
  pal.colours.resize(size, GifColorType{0, 0, 0});
  return pal;
}

// Owns the GifFileType so every error path closes the file before the temp file is removed.
class GifWriter {
 public:
  GifWriter(const std::string& path, const std::string& final_path) : path_(path), final_path_(final_path) {
    int err = 0;
    gif_ = EGifOpenFileName(path.c_str(), false, &err);
    if (!gif_) fail("cannot create file", err);
    EGifSetGifVersion(gif_, true);
  }
  ~GifWriter() {
    if (gif_) EGifCloseFile(gif_, nullptr);
  }
  GifFileType* get() const { return gif_; }
  void check(int status, const char* what) {
    if (status != GIF_OK) fail(what, gif_->Error);
  }
  void close() {
    int err = 0;
    GifFileType* g = gif_;
    gif_ = nullptr;
    if (EGifCloseFile(g, &err) != GIF_OK) fail("cannot finish file", err);
  }
  [[noreturn]] void fail(const char* what, int err) {
    const char* msg = GifErrorString(err);
    throw Error("write_gif '" + final_path_ + "': " + what + " (" + (msg ? msg : "unknown giflib error") + ")");
  }

 private:
  std::string path_, final_path_;
  GifFileType* gif_ = nullptr;
};

void write_frames(GifWriter& w, const std::vector<Image>& frames, const Palette& pal, int delay_cs) {
  const int width = frames[0].width, height = frames[0].height;
  ColorMapObject* map = GifMakeMapObject(int(pal.colours.size()), pal.colours.data());
  if (!map) throw Error("write_gif: out of memory for the colour map");
  const int status = EGifPutScreenDesc(w.get(), width, height, 8, 0, map);
  GifFreeMapObject(map);
  w.check(status, "cannot write the screen descriptor");

  // NETSCAPE2.0 application extension: loop forever.
  static const GifByteType kNetscape[] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
  static const GifByteType kLoop[] = {1, 0, 0};
  w.check(EGifPutExtensionLeader(w.get(), APPLICATION_EXT_FUNC_CODE), "cannot write the loop extension");
  w.check(EGifPutExtensionBlock(w.get(), sizeof(kNetscape), kNetscape), "cannot write the loop extension");
  w.check(EGifPutExtensionBlock(w.get(), sizeof(kLoop), kLoop), "cannot write the loop extension");
  w.check(EGifPutExtensionTrailer(w.get()), "cannot write the loop extension");

  std::vector<GifPixelType> line(static_cast<size_t>(width));
  for (const auto& f : frames) {
    GraphicsControlBlock gcb{};
    gcb.DisposalMode = DISPOSE_DO_NOT;
    gcb.UserInputFlag = false;
    gcb.DelayTime = delay_cs;
    gcb.TransparentColor = NO_TRANSPARENT_COLOR;
    GifByteType ext[4];
    const size_t n = EGifGCBToExtension(&gcb, ext);
    w.check(EGifPutExtension(w.get(), GRAPHICS_EXT_FUNC_CODE, int(n), ext), "cannot write a frame delay");
    w.check(EGifPutImageDesc(w.get(), 0, 0, width, height, false, nullptr), "cannot write a frame header");
    for (int y = 0; y < height; ++y) {
      const uint8_t* row = f.rgb.data() + size_t(y) * width * 3;
      for (int x = 0; x < width; ++x) line[size_t(x)] = pal.lookup(row + size_t(x) * 3);
      w.check(EGifPutLine(w.get(), line.data(), width), "cannot write frame pixels");
    }
  }
}

}  // namespace

void write_gif(const std::string& path, const std::vector<Image>& frames, int delay_cs) {
  if (frames.empty()) throw Error("write_gif '" + path + "': no frames to write");
  const int width = frames[0].width, height = frames[0].height;
  if (width < 1 || height < 1 || width > 65535 || height > 65535) {
    throw Error("write_gif '" + path + "': frame size " + std::to_string(width) + "x" + std::to_string(height) +
                " is outside 1..65535");
  }
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    if (f.width != width || f.height != height || f.rgb.size() != size_t(width) * height * 3) {
      throw Error("write_gif '" + path + "': frame " + std::to_string(i) + " is " + std::to_string(f.width) + "x" +
                  std::to_string(f.height) + " (" + std::to_string(f.rgb.size()) + " bytes), frame 0 is " +
                  std::to_string(width) + "x" + std::to_string(height) + "; all frames must be the same size");
    }
  }
  if (delay_cs < 0 || delay_cs > 65535) {
    throw Error("write_gif '" + path + "': delay_cs must be in [0, 65535], got " + std::to_string(delay_cs));
  }
  const Palette pal = build_palette(frames);
  const std::string tmp = path + ".tmp";
  try {
    GifWriter w(tmp, path);
    write_frames(w, frames, pal, delay_cs);
    w.close();
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw Error("write_gif: cannot rename '" + tmp + "' to '" + path + "' (" + std::strerror(err) + ")");
  }
}

}  // namespace vkwb::envs
