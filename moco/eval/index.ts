// The MoCo trainer's evaluation: feature extraction with the center transform, the weighted kNN
// monitor, linear evaluation (with the seed article's label-fraction protocol) and SVG plots.
export { extractFeatures, centerParams, centerBatchParams } from './features';
export type { ExtractOptions, FeatureEncoder, FeatureSource, LabeledImages } from './features';
export { knnClassify, knnMonitor, knnVote, topK, score } from './knn';
export type { FeatureSet, KnnOptions, KnnResult } from './knn';
export { linearProbe, linearEval, stratifiedSubset, selectImages, defaultMilestones } from './linear';
export type { EpochEntry, LinearEvalOptions, LinearProbeOptions, LinearProbeResult } from './linear';
export {
  lineChartSvg,
  lossCurveSvg,
  knnAccuracySvg,
  embeddingSvg,
  pcaEmbeddingSvg,
  pca2d,
  svgToPng,
  niceTicks,
  formatTick,
  escapeXml,
  ema,
  PALETTE,
  IMAGENETTE_NAMES,
  readableClassNames,
} from './plots';
export type { ChartOptions, EmbeddingOptions, LossCurve, Pca2d, Series } from './plots';
