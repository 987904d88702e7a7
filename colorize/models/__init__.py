"""The networks: generators (normalised L -> ab), conditional
discriminators (L, ab -> score), and the layers and precision they share."""
from colorize.models.discriminators import (BATCHNORM_CRITICS, DISCRIMINATORS,  # noqa: F401
                                            build_discriminator, ebgan_discriminator,
                                            gp_critic, patchgan_discriminator, wgan_critic)
from colorize.models.generators import (GENERATORS, UNET_MAX_DEPTH, UPSAMPLERS,  # noqa: F401
                                        AnnealedMean, build_generator, colcol_generator,
                                        decode_logits, decoded, unet_depth, unet_generator)
from colorize.models.layers import (OUTPUT_DTYPE, PRECISIONS, BatchNorm,  # noqa: F401
                                    BilinearUpsampling, Dropout, LeakyReLU, cpu_has_bfloat16,
                                    fastest_precision, leaky_relu, precision, replica_seed)
