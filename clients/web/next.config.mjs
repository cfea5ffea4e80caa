/** @type {import('next').NextConfig} */
const nextConfig = {
  // The storefront serves no images through Next's optimizer (and sharp is not installed).
  images: { unoptimized: true },
  poweredByHeader: false,
  // Titles and descriptions in <head> of every answer, for every browser (not streamed in later):
  // screen readers, search engines and link previews read them from the first byte.
  htmlLimitedBots: /.*/,
};

export default nextConfig;
