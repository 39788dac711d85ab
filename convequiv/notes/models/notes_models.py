"""Every model in the five lecture notes, named by note file (``000``..``004``).

Line numbers (``L95-112``) refer to the note files in ``shared/notes`` (numbered from 1). Where a
note leaves something out (an input shape, an elided middle), the description says what it assumes.
"""

from __future__ import annotations

from .layers import (
    Activation,
    Block,
    CenterCrop,
    Conv2D,
    Dense,
    DepthPool,
    Dropout,
    Flatten,
    GlobalAveragePooling2D,
    Layer,
    MaxPooling2D,
    RandomFlip,
    RandomRotation,
    RandomZoom,
    Rescaling,
    VGGPreprocess,
)
from .model import Model
from .vgg import vgg16_base


def _note000() -> list[Model]:
    return [
        Model(
            "000-simpleconvnet",
            (1, 28, 28),
            (
                Conv2D(30, 5),
                Activation("relu"),
                MaxPooling2D(2, strides=2),
                Flatten(functional=True),
                Dense(100),
                Activation("relu"),
                Dense(10),
            ),
            data_format="channels_first",
            source="000 L403-544 (SimpleConvNet with its defaults: input_dim=(1, 28, 28), 30 filters 5x5, pad 0, "
            "stride 1, hidden_size 100, output_size 10)",
            description="NumPy network: Conv1 - Relu1 - Pool1 (2x2, stride 2) - Affine1 - Relu2 - Affine2. Affine "
            "reshapes its input itself (a functional flatten); SoftmaxWithLoss belongs to the loss, not to predict().",
            tags=("notes", "numpy"),
        )
    ]


def _note001() -> list[Model]:
    return [
        Model(
            "001-keras-convnet",
            (28, 28, 1),
            (
                Conv2D(32, 3, activation="relu"),
                MaxPooling2D(2),
                Conv2D(64, 3, activation="relu"),
                MaxPooling2D(2),
                Conv2D(64, 3, activation="relu"),
            ),
            source="001 L80-86 (tf.keras Sequential), summary printed at L95-112",
            tags=("notes", "keras", "printed"),
        ),
        Model(
            "001-keras-subclass",
            (28, 28, 1),
            (
                Conv2D(32, 3, padding="same", activation="relu", name="layer1"),
                MaxPooling2D(2, name="pool1"),
                Conv2D(64, 3, padding="same", activation="relu", name="layer2"),
                MaxPooling2D(2, name="pool2"),
                Flatten(name="flat"),
                Dense(10, name="fc"),
            ),
            keras_name="cnn",
            source="001 L115-131 (tf.keras.Model subclass) as intended; the listing as written cannot be "
            "instantiated (see the claims)",
            tags=("notes", "keras"),
        ),
        Model(
            "001-torch-convnet",
            (1, 28, 28),
            (
                Conv2D(32, 3, padding=1),
                Activation("relu"),
                MaxPooling2D(2, strides=2),
                Conv2D(64, 3, padding=1),
                Activation("relu"),
                MaxPooling2D(2, strides=2),
                Conv2D(64, 3, padding=1),
                Activation("relu"),
                MaxPooling2D(2, strides=2),
                Flatten(functional=True),
                Dense(10),
            ),
            data_format="channels_first",
            source="001 L140-167 (PyTorch CNN: three Conv2d-ReLU-MaxPool2d blocks, out.view(...), "
            "Linear(3 * 3 * 64, 10))",
            description="Input 1x28x28 (the 3 * 3 * 64 of the Linear layer fixes it: 28 -> 14 -> 7 -> 3).",
            tags=("notes", "torch"),
        ),
    ]


def _note002() -> list[Model]:
    def default_conv(filters: int, kernel: int = 3) -> Conv2D:
        return Conv2D(filters, kernel, padding="same", activation="relu")

    return [
        Model(
            "002-conv2d-example",
            (427, 640, 3),
            (CenterCrop(70, 120), Rescaling(1 / 255), Conv2D(32, 3, strides=1, padding="same")),
            source="002 L20-58 (two 427x640 RGB sample images, CenterCrop(70, 120), Rescaling(1/255), "
            "Conv2D(filters=32, kernel_size=3, strides=1, padding='same'))",
            description="The note applies the three layers one after the other to a batch of 2 images.",
            tags=("notes", "keras", "printed"),
        ),
        Model(
            "002-pooling-layers",
            (70, 120, 32),
            (MaxPooling2D(2, strides=2, padding="same"), DepthPool(2), GlobalAveragePooling2D()),
            source="002 L79-136 (MaxPool2D(pool_size=2, strides=2, padding='same'), the DepthPool layer, "
            "GlobalAveragePooling2D)",
            description="The note defines these three pooling layers without applying them; here they are "
            "chained on the 70x120x32 feature maps of 002-conv2d-example.",
            tags=("notes", "keras"),
        ),
        Model(
            "002-fashion-mnist",
            (28, 28, 1),
            (
                default_conv(64, 7),
                MaxPooling2D(2, strides=2),
                default_conv(128),
                default_conv(128),
                MaxPooling2D(2, strides=2),
                default_conv(256),
                default_conv(256),
                MaxPooling2D(2, strides=2),
                Flatten(),
                Dense(128, activation="relu"),
                Dropout(0.5),
                Dense(64, activation="relu"),
                Dropout(0.5),
                Dense(10, activation="softmax"),
            ),
            source="002 L154-174 (DefaultConv2D = 3x3 'same' ReLU convolution; Sequential for Fashion-MNIST)",
            tags=("notes", "keras"),
        ),
    ]


def _torch_mnist(functional_flatten: bool) -> tuple[Layer, ...]:
    return (
        Conv2D(16, 3),
        Activation("relu"),
        MaxPooling2D(2, strides=2, padding=1),
        Conv2D(32, 3),
        Activation("relu"),
        MaxPooling2D(2, strides=2, padding=1),
        Flatten(functional=functional_flatten),
        Dense(32),
        Activation("relu"),
        Dropout(0.3),
        Dense(10),
    )


def _note003() -> list[Model]:
    return [
        Model(
            "003-torch-mnist",
            (1, 28, 28),
            _torch_mnist(functional_flatten=True),
            data_format="channels_first",
            source="003 L428-450 (the printed torchsummary of the MNIST CNN, L396-423)",
            description="The model whose torchsummary the note prints: ten rows, no Flatten row, so the flatten "
            "happens outside a module (as x.view in forward).",
            tags=("notes", "torch", "printed"),
        ),
        Model(
            "003-torch-mnist-listing",
            (1, 28, 28),
            _torch_mnist(functional_flatten=False),
            data_format="channels_first",
            source="003 L396-423 (the MNIST CNN as listed, with an nn.Flatten(1, -1) module)",
            description="torchsummary lists the nn.Flatten module as a row, which the printed summary lacks.",
            tags=("notes", "torch"),
        ),
        Model(
            "003-keras-snippet",
            (28, 28, 1),
            (Conv2D(16, 3, strides=1, activation="relu"), MaxPooling2D(2, strides=1)),
            source="003 L480-496 (Conv2D(16, (3, 3), strides=(1, 1), relu) + MaxPool2D((2, 2), strides=(1, 1)))",
            description="The snippet gives no input shape; MNIST's 28x28x1 from the same note is assumed.",
            tags=("notes", "keras"),
        ),
    ]


def _mnist_convnet() -> tuple[Layer, ...]:
    return (
        Conv2D(32, 3, activation="relu"),
        MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"),
        MaxPooling2D(2),
        Conv2D(128, 3, activation="relu"),
        Flatten(),
        Dense(10, activation="softmax"),
    )


def _cats_convnet() -> tuple[Layer, ...]:
    return (
        Conv2D(32, 3, activation="relu"),
        MaxPooling2D(2),
        Conv2D(64, 3, activation="relu"),
        MaxPooling2D(2),
        Conv2D(128, 3, activation="relu"),
        MaxPooling2D(2),
        Conv2D(256, 3, activation="relu"),
        MaxPooling2D(2),
        Conv2D(256, 3, activation="relu"),
        Flatten(),
    )


def _augmentation() -> Block:
    return Block(layers=(RandomFlip("horizontal"), RandomRotation(0.1), RandomZoom(0.2)))


def _vgg_head() -> tuple[Layer, ...]:
    return (Flatten(), Dense(256), Dropout(0.5), Dense(1, activation="sigmoid"))


def _note004() -> list[Model]:
    vgg180 = vgg16_base()
    finetune = tuple(
        layer if layer.name is not None and layer.name.startswith("block5") else _frozen(layer) for layer in vgg180
    )
    return [
        Model(
            "004-mnist-convnet",
            (28, 28, 1),
            _mnist_convnet(),
            api="functional",
            source="004 L22-39 (functional MNIST convnet); its summary is printed at L205-228",
            tags=("notes", "keras", "printed"),
        ),
        Model(
            "004-mnist-no-pool",
            (28, 28, 1),
            (
                Conv2D(32, 3, activation="relu", name="conv2d_3"),
                Conv2D(64, 3, activation="relu", name="conv2d_4"),
                Conv2D(128, 3, activation="relu", name="conv2d_5"),
                Flatten(name="flatten_1"),
                Dense(10, activation="softmax", name="dense_1"),
            ),
            api="functional",
            keras_name="model_1",
            input_name="input_2",
            source="004 L180-199 (summary of model_no_max_pool; its code is not in the note)",
            description="Layers as the printed summary shows them (names as printed: the model was the "
            "session's second).",
            tags=("notes", "keras", "printed"),
        ),
        Model(
            "004-cats-vs-dogs",
            (180, 180, 3),
            (Rescaling(1 / 255), *_cats_convnet(), Dense(1, activation="sigmoid")),
            api="functional",
            source="004 L288-306 (cats vs dogs convnet on 180x180x3)",
            tags=("notes", "keras"),
        ),
        Model(
            "004-cats-vs-dogs-augmented",
            (180, 180, 3),
            (_augmentation(), Rescaling(1 / 255), *_cats_convnet(), Dropout(0.5), Dense(1, activation="sigmoid")),
            api="functional",
            source="004 L367-386 (data augmentation block + the convnet with Dropout(0.5) before the output)",
            description="The note elides the middle of the convnet with '...'; the layers of 004-cats-vs-dogs "
            "are assumed.",
            tags=("notes", "keras"),
        ),
        Model(
            "004-vgg16-base",
            (180, 180, 3),
            vgg180,
            api="functional",
            keras_name="vgg16",
            source="004 L429-432 (keras.applications VGG16, include_top=False, input_shape=(180, 180, 3))",
            tags=("notes", "keras", "application"),
        ),
        Model(
            "004-vgg16-head",
            (5, 5, 512),
            _vgg_head(),
            api="functional",
            source="004 L471-483 (classifier on the VGG16 features: Input((5, 5, 512)), Flatten, Dense(256), "
            "Dropout(0.5), Dense(1, sigmoid))",
            tags=("notes", "keras"),
        ),
        Model(
            "004-vgg16-frozen",
            (180, 180, 3),
            (
                _augmentation(),
                VGGPreprocess(),
                Block(layers=vgg180, application="vgg16", name="vgg16", trainable=False),
                *_vgg_head(),
            ),
            api="functional",
            source="004 L500-521 (augmentation, vgg16.preprocess_input, frozen VGG16 base, the same head)",
            tags=("notes", "keras", "application"),
        ),
        Model(
            "004-vgg16-finetune",
            (180, 180, 3),
            (
                _augmentation(),
                VGGPreprocess(),
                Block(layers=finetune, application="vgg16", name="vgg16"),
                *_vgg_head(),
            ),
            api="functional",
            source="004 L531-533 (fine-tuning: conv_base.layers[:-4] frozen, i.e. everything before block5_conv1)",
            tags=("notes", "keras", "application"),
        ),
    ]


def _frozen(layer: Layer) -> Layer:
    from dataclasses import replace

    return replace(layer, trainable=False)


def models() -> list[Model]:
    """The notes' models, in note order."""
    return [*_note000(), *_note001(), *_note002(), *_note003(), *_note004()]
