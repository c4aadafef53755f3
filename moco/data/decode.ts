// Decodes one image file to S×S×3 uint8 RGB, row-major HWC, with sharp (libvips). Policy: resize so
// the shorter side is S (lanczos3; aspect ratio kept), then centre-crop to S×S (an already square
// image is only resized); grayscale, CMYK and 16-bit inputs become 8-bit sRGB; an alpha channel is
// dropped (not composited); EXIF orientation is ignored, as torchvision's PIL ImageFolder does.
// A file sharp cannot decode cleanly (truncated, corrupt, not an image; decoder warnings count as
// failures) rejects with sharp's message; the cache builder skips and counts it.
import sharp from 'sharp';

/** Bumped when the decode policy changes, so caches built under the old one are rebuilt. */
export const DECODE_POLICY = 'cover-centre lanczos3 srgb uchar no-alpha no-exif-rotate v1';

export async function decodeImage(path: string, size: number): Promise<Uint8Array> {
  const { data, info } = await sharp(path, { failOn: 'warning' })
    .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3 || data.length !== size * size * 3) {
    throw new Error(`decodeImage: ${path} decoded to ${info.width}×${info.height}×${info.channels}, expected ${size}×${size}×3`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}
