// The warm pool's QR images: each QR payload rendered once to a PNG data URL, pre-rendered for free pooled
// instances so a connect answers without rendering.

/** At most this many rendered QRs are kept (the oldest is dropped first). */
const QR_CACHE_MAX = 2_000;

/** PNG data URLs of QR payloads, rendered once per payload; a failed render is forgotten (tried again next time). */
export class QrImageCache {
  private readonly images = new Map<string, Promise<string>>();

  constructor(
    private readonly render: (qr: string) => Promise<string>,
    private readonly max: number = QR_CACHE_MAX,
  ) {}

  /** The PNG data URL of a QR payload, rendered at the first call (concurrent callers share the render). */
  get(qr: string): Promise<string> {
    let img = this.images.get(qr);
    if (!img) {
      if (this.images.size >= this.max) this.images.delete(this.images.keys().next().value!);
      img = this.render(qr);
      this.images.set(qr, img);
      img.catch(() => this.images.delete(qr));
    }
    return img;
  }
}
