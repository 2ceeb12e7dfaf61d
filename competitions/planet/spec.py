"""Planet: Understanding the Amazon from Space, as data."""

from kit.spec import Column, CompetitionSpec, FileSpec, SubmissionSpec

#: the 17 tags, alphabetical (the order of tags within a row of train_v2.csv)
LABELS = (
    "agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down", "clear", "cloudy",
    "conventional_mine", "cultivation", "habitation", "haze", "partly_cloudy", "primary", "road",
    "selective_logging", "slash_burn", "water",
)
#: exactly one of these per image (one real image in 40,479 has none)
WEATHER = ("clear", "cloudy", "haze", "partly_cloudy")

_TAGS = (Column("image_name", "str"), Column("tags", "str"))

SPEC = CompetitionSpec(
    name="planet",
    title="Planet: Understanding the Amazon from Space",
    slug="planet-understanding-the-amazon-from-space",
    task="multilabel",
    metric="mean_f2",
    files=(
        FileSpec("train_v2.csv", role="train", columns=_TAGS, archive="train_v2.csv.zip",
                 real_rows=40_479,
                 description="image_name (train_N, N = 0..40478 in order) and its tags: space-separated, "
                             "alphabetical"),
        FileSpec("sample_submission_v2.csv", role="sample_submission", columns=_TAGS,
                 archive="sample_submission_v2.csv.zip", real_rows=61_191,
                 description="every test image, all test_N then all file_N, each with the constant tags "
                             "'primary clear agriculture road water'"),
        FileSpec("train-jpg", role="images", archive="train-jpg.tar.7z",
                 description="40,479 JPEGs train_N.jpg, 256x256, 4 channels (Pillow mode CMYK)"),
        FileSpec("test-jpg", role="images", archive="test-jpg.tar.7z",
                 description="40,669 JPEGs test_N.jpg, as train-jpg"),
        FileSpec("test-jpg-additional", role="images", archive="test-jpg-additional.tar.7z",
                 description="20,522 JPEGs file_N.jpg added to the test set late in the competition"),
        FileSpec("train-tif-v2", role="extra", archive="train-tif-v2.tar.7z", required=False,
                 description="the same chips as 16-bit 4-band GeoTIFFs (R, G, B, NIR); the labels were "
                             "made on the JPEGs and the TIFFs are not aligned with them everywhere"),
        FileSpec("test-tif-v2", role="extra", archive="test-tif-v2.tar.7z", required=False,
                 description="test chips as GeoTIFFs"),
        FileSpec("test_v2_file_mapping.csv", role="extra", archive="test_v2_file_mapping.csv.zip",
                 required=False,
                 description="renamings of test TIFF files made by the v2 fix; not needed for the JPEGs"),
    ),
    train="train_v2.csv",
    # There is no test table: the test set is the image folders, and the sample submission
    # lists their names in submission order, so it serves as the test file of ids.
    test="sample_submission_v2.csv",
    sample_submission="sample_submission_v2.csv",
    id_column="image_name",
    target_columns=("tags",),
    submission=SubmissionSpec(columns=("image_name", "tags"), kind="tags", labels=LABELS, exclusive=(WEATHER,)),
    time_column=None,
    horizon_days=None,
    validation="multilabel_stratified_kfold",
    # each CNN fold is the costly part of a run, and 3 keep a CPU run short
    n_folds=3,
    description=(
        "Tag 256x256 satellite chips of the Amazon basin (about 1 km square, 3-5 m pixels) with "
        "17 labels: exactly one weather label (clear, partly_cloudy, haze, cloudy; cloudy chips "
        "carry nothing else) and any land labels, from primary rain forest (93% of chips), "
        "agriculture, road and water down to rare ones such as blow_down and conventional_mine "
        "(about 100 chips each). Images are JPEGs in train-jpg/, test-jpg/ and "
        "test-jpg-additional/; train_v2.csv holds the tags of the training chips. There is no "
        "test table: the sample submission lists the 61,191 test images (test-jpg then "
        "test-jpg-additional), so kit uses it as the test file of ids. Scored by the mean over "
        "images of F2 (recall weighted 4x precision), so thresholds below 0.5 pay. Test images "
        "are a random sample of the same scenes, with no shift in time or place; the public "
        "leaderboard was scored on about 40k images and the private one on about 20k, which the "
        "twin models as test-jpg = Public and test-jpg-additional = Private."
    ),
    extra={
        "image_size": (256, 256),
        "image_mode": "CMYK",
        "weather_labels": WEATHER,
        # image folder -> (file-name prefix, real image count)
        "image_folders": {
            "train-jpg": ("train_", 40_479),
            "test-jpg": ("test_", 40_669),
            "test-jpg-additional": ("file_", 20_522),
        },
        # label counts in the real train_v2.csv (40,479 rows), for the twin's tests
        "real_label_counts": {
            "primary": 37_513, "clear": 28_431, "agriculture": 12_315, "road": 8_071,
            "water": 7_411, "partly_cloudy": 7_261, "cultivation": 4_547, "habitation": 3_660,
            "haze": 2_697, "cloudy": 2_089, "bare_ground": 862, "selective_logging": 340,
            "artisinal_mine": 339, "blooming": 332, "slash_burn": 209, "blow_down": 101,
            "conventional_mine": 100,
        },
        "sample_submission_tags": "primary clear agriculture road water",
    },
)
