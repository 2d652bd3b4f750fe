/** PNG for generated sample images: the SDK's encoder (sdk/png.ts), one implementation for plugins and the platform. */
export { encodePng } from '../sdk/png.js';
