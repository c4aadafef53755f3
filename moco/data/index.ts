// The MoCo trainer's data layer: ImageFolder scanning, the decode-once cache, the shipped sample, batching.
export { IMAGE_EXTENSIONS, scanImageFolder, listClasses, classCounts } from './image-folder';
export type { FolderScan, ImageFile, ScanOptions } from './image-folder';
export { DECODE_POLICY, decodeImage } from './decode';
export { readCacheFile, writeCacheFile, CACHE_VERSION } from './cache-file';
export type { CacheHeader, CacheContents, CacheRead, SkippedImage } from './cache-file';
export { loadImageFolder, decodeAll, fingerprint, cacheFilePath } from './cache';
export type { BuildProgress, DecodedImages, ImageDataset, LoadOptions } from './cache';
export { EpochLoader } from './loader';
export type { Batch, ImageSet, LoaderOptions, LoaderState } from './loader';
export { sampleRoot, SAMPLE_IMAGE_SIZE, SAMPLE_CLASSES, SAMPLE_TRAIN_PER_CLASS, SAMPLE_VAL_PER_CLASS } from './sample';
