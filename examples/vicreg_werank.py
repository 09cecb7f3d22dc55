"""VICReg with the WERank regularizer, its spectra logged to TensorBoard.

    python examples/vicreg_werank.py && tensorboard --logdir runs/vicreg_werank

A small convnet on scikit-learn's handwritten digits (offline), every kernel
regularised by WERank (Saheb Pasand et al. 2023, arXiv 2402.09586), trained
with VICReg (Bardes et al. 2022, arXiv 2105.04906); `SpectrumLogger` writes
the effective rank, RankMe, AUC and the spectra of the representation and
the embedding each epoch (`--tiny`: 2 epochs on 128 digits).
"""

import argparse

import keras

import keras_collapse as kc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log_dir", default="runs/vicreg_werank")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--werank", type=float, default=0.01, help="WERank's alpha")
    parser.add_argument("--tiny", action="store_true", help="a seconds-long run")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    images, _ = kc.data.digits()
    if args.tiny:
        images, args.epochs = images[:128], 2

    encoder = kc.encoders.convnet(images.shape[1:], width=16)
    kc.regularizers.attach_werank(encoder, args.werank)
    model = kc.models.SiameseModel(encoder, head=kc.layers.ProjectionHead(64, hidden_dims=(128,)))
    model.compile(optimizer="adam", loss=kc.losses.VICReg(25.0, 25.0, 1.0))
    augment = kc.data.Compose([kc.data.RandomResizedCrop(8, scale=(0.5, 1.0)),
                               kc.data.ColorJitter(0.4, 0.4, 0, 0)])
    history = model.fit(
        kc.data.two_views(images, augment, batch_size=64, seed=0), epochs=args.epochs,
        verbose=2, callbacks=[kc.callbacks.SpectrumLogger(images[:256], log_dir=args.log_dir),
                              kc.guards.NonFiniteGuard()])
    rank = history.history["collapse/representation/effective_rank"][-1]
    print(f"representation effective rank after {args.epochs} epochs: {rank:.1f} "
          f"of {encoder.output_shape[-1]}")
    return history


if __name__ == "__main__":
    main()
