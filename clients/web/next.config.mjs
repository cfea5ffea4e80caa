/** @type {import('next').NextConfig} */
const nextConfig = {
  // The storefront serves no images through Next's optimizer (and sharp is not installed).
  images: { unoptimized: true },
  poweredByHeader: false,
};

export default nextConfig;
